// Submits the forms marked data-autosubmit once the page has loaded: the
// SAML HTTP-POST binding carries a request to the identity provider this
// way. Without JavaScript the form's button does the same. A link marked
// data-autofollow is followed likewise (the HTTP-Redirect binding after a
// form was submitted to admit, whose CSP form-action would stop a
// redirect to the provider); without JavaScript the person follows it.
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.submit();
});
document.querySelectorAll("a[data-autofollow]").forEach(function (a) {
  window.location.replace(a.href);
});
