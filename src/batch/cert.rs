//! Certificate service principals without OpenSSL: load an RSA key and its certificate from a
//! PEM file (what operators have) or PKCS#12, and sign the client-assertion JWT that Entra ID
//! accepts in place of a secret (RS256, `x5t` = base64url SHA-1 thumbprint).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

pub struct ClientCertificate {
    key: RsaKeyPair,
    /// base64url SHA-1 of the certificate's DER, as Entra ID expects in `x5t`.
    x5t: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientCertificate(x5t={})", self.x5t)
    }
}

impl ClientCertificate {
    /// Reads `path`: PEM with a private key and a certificate, or PKCS#12 (`.pfx`/`.p12`, or any
    /// file that is not PEM). Errors name the file and what to do.
    pub fn load(path: &Path, password: Option<&str>) -> Result<Self, String> {
        let shown = path.display();
        let bytes = std::fs::read(path).map_err(|e| {
            format!("cannot read the certificate file {shown}: {e}; check auth.certificate_path / AZURE_CLIENT_CERTIFICATE_PATH")
        })?;
        let (key_der, certs) = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            from_pem(&bytes).map_err(|e| format!("certificate file {shown}: {e}"))?
        } else {
            from_pkcs12(&bytes, password.unwrap_or("")).map_err(|e| format!("certificate file {shown}: {e}"))?
        };
        let key = RsaKeyPair::from_pkcs8(&key_der)
            .or_else(|_| RsaKeyPair::from_der(&key_der))
            .map_err(|e| format!("certificate file {shown}: the private key is not a usable RSA key ({e}); Entra ID certificates need RSA 2048 bits or more"))?;
        // The certificate that goes with the key carries the same public key bytes.
        let public = key.public_key().as_ref();
        let cert = certs
            .iter()
            .find(|c| c.windows(public.len()).any(|w| w == public))
            .ok_or_else(|| format!("certificate file {shown}: no certificate in it matches the private key; export the key together with its own certificate"))?;
        let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert);
        Ok(ClientCertificate { key, x5t: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()) })
    }

    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A signed client assertion for `client_id`, audience `token_url`, valid for ten minutes.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> Result<String, String> {
        let now = jiff::Timestamp::now().as_second();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": token_url, "iss": client_id, "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

type KeyAndCerts = (Vec<u8>, Vec<Vec<u8>>);

fn from_pem(bytes: &[u8]) -> Result<KeyAndCerts, String> {
    let key = match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(PrivateKeyDer::Pkcs8(k)) => k.secret_pkcs8_der().to_vec(),
        Ok(PrivateKeyDer::Pkcs1(k)) => k.secret_pkcs1_der().to_vec(),
        Ok(_) => return Err("the private key is not RSA; Entra ID certificate credentials here need an RSA key".into()),
        Err(_) => {
            return Err("it holds no private key (PEM 'PRIVATE KEY' block); an encrypted key must be decrypted first (openssl pkey -in key.pem -out plain.pem)".into());
        }
    };
    let certs: Vec<Vec<u8>> =
        CertificateDer::pem_slice_iter(bytes).filter_map(Result::ok).map(|c| c.as_ref().to_vec()).collect();
    if certs.is_empty() {
        return Err(
            "it holds a private key but no certificate (PEM 'CERTIFICATE' block); append the certificate to the file"
                .into(),
        );
    }
    Ok((key, certs))
}

fn from_pkcs12(bytes: &[u8], password: &str) -> Result<KeyAndCerts, String> {
    let store = p12_keystore::KeyStore::from_pkcs12(bytes, password, p12_keystore::Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| match e {
            p12_keystore::error::Error::MacError(_) => {
                "wrong PKCS#12 password; set auth.certificate_password or AZURE_CLIENT_CERTIFICATE_PASSWORD".to_string()
            }
            other => format!("it is neither PEM nor a readable PKCS#12 file ({other})"),
        })?;
    let (_, chain) =
        store.private_key_chain().ok_or("the PKCS#12 file holds no private key; export it with the key included")?;
    let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    Ok((chain.key().as_der().to_vec(), certs))
}
