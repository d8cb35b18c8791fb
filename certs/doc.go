// Package certs owns admit's own key pairs for SAML: RSA keys with
// self-signed X.509 certificates, sealed with the server key while at rest
// (DESIGN rule 7), and their rotation.
//
// A rotation has two steps so that nothing breaks at any identity provider:
// the first publishes a new certificate in the SP metadata without using it;
// the second, once providers have read the metadata again, makes it the one
// that signs and that providers encrypt to, keeping the old one published
// (and able to decrypt) until it is retired. Expiry warnings for these and
// for identity providers' certificates are logged and exported as metrics.
//
// The records live in the directory's store (directory.Certificate); this
// package does the cryptography. Sealer also seals other secrets at rest,
// such as OIDC client secrets.
package certs
