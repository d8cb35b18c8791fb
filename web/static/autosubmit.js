// Submits the forms marked data-autosubmit once the page has loaded: the
// SAML HTTP-POST binding carries a request to the identity provider this
// way. Without JavaScript the form's button does the same.
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.submit();
});
