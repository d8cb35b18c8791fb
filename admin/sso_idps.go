package admin

// idpGuide is how one identity provider is set up for admit: the steps its
// admin follows, naming admit's values as the connection page shows them.
// Menu names are the providers' own as of late 2026; they move now and
// then, the values asked for do not.
type idpGuide struct {
	ID, Name string
	SAML     []string
	OIDC     []string
	// Metadata says where the provider publishes its SAML metadata.
	Metadata string
}

var idpGuides = []idpGuide{
	{
		ID: "okta", Name: "Okta",
		SAML: []string{
			"In the Okta Admin Console, open Applications → Applications → Create App Integration, and choose SAML 2.0.",
			"Single sign-on URL: the ACS URL (keep “Use this for Recipient URL and Destination URL” checked). Audience URI (SP Entity ID): the SP entity ID.",
			"Name ID format: EmailAddress; Application username: Email.",
			"Attribute statements: email → user.email, firstName → user.firstName, lastName → user.lastName. For roles, a group attribute statement named groups.",
			"Assign the people or groups who may sign in, on the Assignments tab.",
			"Single logout (optional): Show Advanced Settings → Enable Single Logout; Single Logout URL: the single logout URL; SP Issuer: the SP entity ID; Signature Certificate: admit's certificate from the SP metadata.",
		},
		Metadata: "Sign On tab → SAML 2.0 → Metadata URL: give it to admit below.",
		OIDC: []string{
			"In the Okta Admin Console, open Applications → Applications → Create App Integration, and choose OIDC – OpenID Connect, Web Application.",
			"Sign-in redirect URI: the redirect URI. Initiate login URI (optional): the initiate login URI.",
			"Assign the people or groups who may sign in.",
			"Give admit the issuer https://YOUR-ORG.okta.com, the client ID and the client secret.",
		},
	},
	{
		ID: "entra", Name: "Microsoft Entra ID",
		SAML: []string{
			"In the Microsoft Entra admin center, open Enterprise applications → New application → Create your own application (non-gallery).",
			"Single sign-on → SAML → Basic SAML Configuration: Identifier (Entity ID): the SP entity ID; Reply URL: the ACS URL; Sign on URL: the intranet login link.",
			"Attributes & Claims: the defaults (email address, given name, surname) are what admit reads. For roles, add a group claim.",
			"Assign the users and groups who may sign in (Users and groups).",
			"Single logout (optional): Basic SAML Configuration → Logout Url: the single logout URL.",
		},
		Metadata: "SAML Certificates → App Federation Metadata Url: give it to admit below.",
		OIDC: []string{
			"In the Microsoft Entra admin center, open App registrations → New registration: accounts in this organizational directory only; redirect URI (Web): the redirect URI.",
			"Certificates & secrets → New client secret; note its value (shown once).",
			"Token configuration: add the optional claims email, given_name and family_name; for roles, a groups claim.",
			"Give admit the issuer https://login.microsoftonline.com/YOUR-TENANT-ID/v2.0, the application (client) ID and the secret. admit trusts the email by your verified domains, as Entra ID sends no email_verified.",
		},
	},
	{
		ID: "google", Name: "Google Workspace",
		SAML: []string{
			"In the Google Admin console, open Apps → Web and mobile apps → Add app → Add custom SAML app.",
			"On Google Identity Provider details, download the IdP metadata file: Google publishes no metadata URL, so upload the file to admit below.",
			"Service provider details: ACS URL: the ACS URL; Entity ID: the SP entity ID; Name ID format: EMAIL; Name ID: Basic Information → Primary email.",
			"Attribute mapping: First name → firstName, Last name → lastName; for roles, Group membership → groups.",
			"Turn the app on for everyone, or for the organizational units that may sign in (User access).",
		},
		Metadata: "Google publishes no metadata URL: upload the downloaded file.",
		OIDC: []string{
			"In the Google Cloud console, open APIs & Services → OAuth consent screen and make it Internal.",
			"Credentials → Create credentials → OAuth client ID → Web application; Authorized redirect URI: the redirect URI.",
			"Give admit the issuer https://accounts.google.com, the client ID and the client secret. Google sends no groups: map roles by hand or with SCIM.",
		},
	},
	{
		ID: "onelogin", Name: "OneLogin",
		SAML: []string{
			"In OneLogin, open Applications → Add App and choose SAML Custom Connector (Advanced).",
			"Configuration: Audience (EntityID): the SP entity ID; Recipient and ACS (Consumer) URL: the ACS URL; ACS (Consumer) URL Validator: the ACS URL; SAML nameID format: Email.",
			"Parameters: add email, firstName and lastName (Include in SAML assertion); for roles, groups.",
			"Give the people who may sign in access to the app (Users or Roles).",
			"Single logout (optional): Configuration → Single Logout URL: the single logout URL.",
		},
		Metadata: "SSO tab → Issuer URL is the metadata URL: give it to admit below.",
		OIDC: []string{
			"In OneLogin, open Applications → Add App and choose OpenId Connect (OIDC).",
			"Configuration: Redirect URIs: the redirect URI; Login URL (optional): the initiate login URI.",
			"SSO tab: note the client ID and secret; Token Endpoint Authentication: POST or Basic.",
			"Give admit the issuer https://YOUR-SUBDOMAIN.onelogin.com/oidc/2, the client ID and the secret.",
		},
	},
	{
		ID: "jumpcloud", Name: "JumpCloud",
		SAML: []string{
			"In the JumpCloud Admin Portal, open SSO Applications → Add New Application → Custom Application, and choose Manage Single Sign-On (SSO) → Configure SSO with SAML.",
			"SP Entity ID: the SP entity ID; ACS URL: the ACS URL; SAMLSubject NameID: email, format emailAddress.",
			"Attributes: email → email, firstName → firstname, lastName → lastname; for roles, include the group attribute named groups.",
			"Bind the user groups who may sign in, activate, and export the metadata.",
		},
		Metadata: "Export Metadata downloads the file: upload it to admit below.",
		OIDC: []string{
			"In the JumpCloud Admin Portal, open SSO Applications → Add New Application → Custom Application, and choose Configure SSO with OIDC.",
			"Redirect URIs: the redirect URI; Client Authentication Type: Client Secret Basic; Login URL: the intranet login link; scopes: email and profile.",
			"Bind the user groups who may sign in; note the client ID and secret when you activate (shown once).",
			"Give admit the issuer https://oauth.id.jumpcloud.com/, the client ID and the secret.",
		},
	},
	{
		ID: "adfs", Name: "AD FS",
		SAML: []string{
			"In AD FS Management, open Relying Party Trusts → Add Relying Party Trust → Claims aware, and import the data published online: the SP metadata URL.",
			"Choose the access control policy that says who may sign in.",
			"Edit Claim Issuance Policy → Send LDAP Attributes as Claims: E-Mail-Addresses → E-Mail Address, Given-Name → Given Name, Surname → Surname; for roles, Token-Groups – Unqualified Names → Group.",
			"Add a Transform an Incoming Claim rule: E-Mail Address → Name ID, format Email.",
			"Single logout: the imported metadata adds a SAML Logout endpoint (Endpoints tab) at the single logout URL.",
		},
		Metadata: "https://YOUR-ADFS-HOST/FederationMetadata/2007-06/FederationMetadata.xml; an AD FS on the company network needs the operator to allow it (ADMIT_OUTBOUND_ALLOW), or upload the file.",
		OIDC: []string{
			"In AD FS Management, open Application Groups → Add Application Group → Server application; redirect URI: the redirect URI.",
			"Generate a shared secret, and note the client identifier.",
			"Give admit the issuer https://YOUR-ADFS-HOST/adfs, the client ID and the secret.",
		},
	},
	{
		ID: "keycloak", Name: "Keycloak",
		SAML: []string{
			"In the realm's admin console, open Clients → Import client, and paste the SP metadata (from the SP metadata URL): it brings the entity ID, the ACS URL and admit's signing certificate.",
			"Settings: Name ID format: email, Force name ID format: on.",
			"Client scopes → the client's dedicated scope → Add mapper: User Property email, firstName and lastName; for roles, Group list named groups (Full group path: off).",
			"Single logout: the imported logout service URLs are the single logout URL; keep Front channel logout and Sign documents on.",
		},
		Metadata: "https://YOUR-KEYCLOAK-HOST/realms/YOUR-REALM/protocol/saml/descriptor",
		OIDC: []string{
			"In the realm's admin console, open Clients → Create client: OpenID Connect, Client authentication: on.",
			"Valid redirect URIs: the redirect URI.",
			"Credentials tab: copy the client secret. For roles, add a Group Membership mapper named groups to the client's dedicated scope.",
			"Give admit the issuer https://YOUR-KEYCLOAK-HOST/realms/YOUR-REALM, the client ID and the secret.",
		},
	},
}
