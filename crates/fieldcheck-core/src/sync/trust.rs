//! What a device keeps about its server besides the enrollment itself: an extra certificate
//! authority (a city office that runs its own CA), and the token of an enrollment attempt
//! whose answer may have been lost. Also how a failed TLS handshake is told from a network
//! failure.
//!
//! Both live in `meta`, so the device schema does not change. They are written in their own
//! transactions around `save_enrollment`, in an order that leaves a usable device wherever
//! the process stops:
//! 1. before the request: the token for (server, code), so that a retry — in a new process
//!    too — sends the same token, which the server answers with the same enrollment instead
//!    of "code already used";
//! 2. after the answer: the CA for that server. It is keyed by server, so it cannot affect an
//!    enrollment with another one, and the handshake just proved it is right for this one;
//! 3. the enrollment;
//! 4. pending tokens and other servers' CAs are dropped.

use std::fmt;

use rusqlite::{TransactionBehavior, params};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{SyncError, SyncResult};
use crate::error::{CoreError, Result};
use crate::store::{Store, meta_get, meta_set};

const PENDING: &str = "sync_enroll_pending ";
pub(super) const CA: &str = "sync_ca_cert ";

fn pending_key(server: &str, code: &str) -> String {
    format!("{PENDING}{server} {code}")
}

fn ca_key(server: &str) -> String {
    format!("{CA}{server}")
}

/// A certificate authority the device trusts for its server in addition to the built-in
/// (Mozilla) roots: one or more PEM certificates, each checked to be a usable trust anchor.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCert {
    pem: String,
    certs: Vec<CertificateDer<'static>>,
}

impl CaCert {
    pub fn from_pem(pem: &str) -> SyncResult<CaCert> {
        let invalid = SyncError::InvalidCaCert;
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(
                "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        // Parsing as a trust anchor here, not at the first connection, so that a wrong file
        // is refused at enrollment with a reason instead of breaking every later sync.
        let mut roots = rustls::RootCertStore::empty();
        for (i, der) in certs.iter().enumerate() {
            roots
                .add(der.clone())
                .map_err(|e| invalid(format!("certificate {} is not usable: {e}", i + 1)))?;
        }
        Ok(CaCert {
            pem: pem.trim().to_owned(),
            certs,
        })
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    pub(crate) fn reqwest_certificates(&self) -> SyncResult<Vec<reqwest::Certificate>> {
        self.certs
            .iter()
            .map(|c| {
                reqwest::Certificate::from_der(c.as_ref())
                    .map_err(|e| SyncError::InvalidCaCert(e.to_string()))
            })
            .collect()
    }
}

impl fmt::Debug for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaCert")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl Store {
    /// The token to send with an enrollment code: the one an earlier attempt at the same
    /// server and code stored, else `fresh()`, stored before it is sent.
    pub(crate) fn enroll_token(
        &mut self,
        server: &str,
        code: &str,
        fresh: impl FnOnce() -> String,
    ) -> Result<String> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = pending_key(server, code);
        let token = match meta_get(&tx, &key)? {
            Some(t) => t,
            None => {
                let t = fresh();
                meta_set(&tx, &key, &t)?;
                t
            }
        };
        tx.commit()?;
        Ok(token)
    }

    /// Drops the token of an attempt the server certainly did not enroll.
    pub(crate) fn forget_enroll_token(&mut self, server: &str, code: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM meta WHERE key = ?1",
            [pending_key(server, code)],
        )?;
        Ok(())
    }

    /// Sets the extra CA of `server`, or removes it when the enrollment came without one.
    pub(crate) fn set_server_ca(&mut self, server: &str, ca: Option<&CaCert>) -> Result<()> {
        let key = ca_key(server);
        match ca {
            Some(ca) => meta_set(&self.conn, &key, ca.pem()),
            None => {
                self.conn
                    .execute("DELETE FROM meta WHERE key = ?1", [key])?;
                Ok(())
            }
        }
    }

    /// After an enrollment with `server` is saved: no attempt is pending any more, and only
    /// that server's CA is worth keeping.
    pub(crate) fn enrollment_settled(&mut self, server: &str) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1",
            [PENDING],
        )?;
        tx.execute(
            "DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1 AND key <> ?2",
            params![CA, ca_key(server)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The extra CA this device trusts for `server`, when its enrollment came with one.
    pub fn server_ca(&self, server: &str) -> Result<Option<CaCert>> {
        meta_get(&self.conn, &ca_key(server))?
            .map(|pem| {
                CaCert::from_pem(&pem).map_err(|e| {
                    CoreError::Corrupt(format!("stored CA certificate of {server}: {e}"))
                })
            })
            .transpose()
    }
}

/// A transport error that is a failed TLS handshake: no retry will fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsFailure {
    /// The server's certificate does not verify against the roots (and CA) the device has.
    Untrusted(String),
    Other(String),
}

/// Finds the rustls error among a transport error's causes. rustls reports through
/// `std::io::Error`, whose `source()` skips the error it wraps, so an I/O error is followed
/// into what it wraps (`get_ref()`) instead.
pub(crate) fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidCertificate(c) => TlsFailure::Untrusted(why_untrusted(c)),
                other => TlsFailure::Other(other.to_string()),
            });
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn why_untrusted(c: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match c {
        C::UnknownIssuer => "it is issued by a certificate authority this device does not know",
        C::Expired | C::ExpiredContext { .. } => "it has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "it is not valid yet (or the device clock is wrong)"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is issued for a different server name"
        }
        C::Revoked => "it has been revoked",
        other => return format!("{other:?}"),
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate (public part only; made with openssl for these tests).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBqjCCAVGgAwIBAgIUWf7qARmZyFex/YvfLM+89MWU/lQwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXRmllbGRDaGVjayB1bml0LXRlc3QgQ0EwIBcNMjYxMTIzMTcz
NTMxWhgPMjEyNjEwMzAxNzM1MzFaMCIxIDAeBgNVBAMMF0ZpZWxkQ2hlY2sgdW5p
dC10ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYoQlAJlzzH0t2ZF7
yCBXLUt9zUDEizSln0m90wuz9aVUHNiMaEvK/K8GlCeg+JNzNvHbYqHQAMUwbLPe
pVutNqNjMGEwHQYDVR0OBBYEFDRRBZamjmNuhBFbcI54AJE+WWwcMB8GA1UdIwQY
MBaAFDRRBZamjmNuhBFbcI54AJE+WWwcMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0P
AQH/BAQDAgIEMAoGCCqGSM49BAMCA0cAMEQCIEYaxYCl+KoB/HoGLNULWIQzGyV8
OtHCPVMhbjM6ctWNAiBI3Ir1Nlu5iu/S8z7LqqexnaDHSHqH+Vx/LGLYp/L4gQ==
-----END CERTIFICATE-----
";

    const A: &str = "https://a.example/api/v1";
    const B: &str = "https://b.example/api/v1";

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("d.db")).unwrap();
        (dir, s)
    }

    fn keys(s: &Store, prefix: &str) -> Vec<String> {
        let mut st = s
            .conn
            .prepare("SELECT key FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
            .unwrap();
        st.query_map([prefix], |r| r.get(0))
            .unwrap()
            .map(|k| k.unwrap())
            .collect()
    }

    #[test]
    fn a_ca_file_is_checked_when_given() {
        let ca = CaCert::from_pem(TEST_CA).unwrap();
        assert_eq!(ca.reqwest_certificates().unwrap().len(), 1);
        let bundle = format!("{TEST_CA}\n{TEST_CA}");
        assert_eq!(CaCert::from_pem(&bundle).unwrap().certs.len(), 2);
        assert!(!format!("{ca:?}").contains("BEGIN"), "Debug stays short");

        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let not_a_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let torn = &TEST_CA[..TEST_CA.len() / 2];
        for bad in ["", "hello", key_only, not_a_cert, torn] {
            let e = CaCert::from_pem(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_ca_cert", "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_pending_token_is_reused_per_server_and_code_until_settled() {
        let (dir, mut s) = store();
        let t1 = s.enroll_token(A, "C1", || "tok-1".into()).unwrap();
        assert_eq!(t1, "tok-1");
        // Another run (a new process): the stored token, not a fresh one.
        drop(s);
        let mut s = Store::open(dir.path().join("d.db")).unwrap();
        assert_eq!(s.enroll_token(A, "C1", || "tok-2".into()).unwrap(), "tok-1");
        assert_eq!(s.enroll_token(A, "C2", || "tok-3".into()).unwrap(), "tok-3");
        assert_eq!(s.enroll_token(B, "C1", || "tok-4".into()).unwrap(), "tok-4");

        s.forget_enroll_token(A, "C2").unwrap();
        assert_eq!(keys(&s, PENDING).len(), 2);
        assert_eq!(s.enroll_token(A, "C2", || "tok-5".into()).unwrap(), "tok-5");

        s.enrollment_settled(A).unwrap();
        assert!(keys(&s, PENDING).is_empty());
    }

    #[test]
    fn the_ca_is_kept_per_server_and_only_the_enrolled_ones_survive() {
        let (_dir, mut s) = store();
        let ca = CaCert::from_pem(TEST_CA).unwrap();
        assert_eq!(s.server_ca(A).unwrap(), None);
        s.set_server_ca(A, Some(&ca)).unwrap();
        s.set_server_ca(B, Some(&ca)).unwrap();
        assert_eq!(s.server_ca(A).unwrap(), Some(ca.clone()));

        s.enrollment_settled(B).unwrap();
        assert_eq!(s.server_ca(A).unwrap(), None);
        assert_eq!(s.server_ca(B).unwrap(), Some(ca));

        // Enrolled again without a CA: the built-in roots only.
        s.set_server_ca(B, None).unwrap();
        assert_eq!(s.server_ca(B).unwrap(), None);
        assert!(keys(&s, CA).is_empty());
    }

    #[test]
    fn a_failed_handshake_is_found_behind_io_errors() {
        let untrusted = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let outer = std::io::Error::other(untrusted);
        assert!(matches!(
            tls_failure(&outer),
            Some(TlsFailure::Untrusted(r)) if r.contains("certificate authority")
        ));
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert!(matches!(tls_failure(&alert), Some(TlsFailure::Other(_))));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_failure(&refused), None);
    }
}
