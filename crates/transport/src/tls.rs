//! TLS 1.3 configuration: a self-signed certificate made from the node's identity key, and
//! verifiers that pin peers to their identity keys instead of trusting any CA.
//!
//! What the verifiers check, and why that is enough:
//! - the certificate's SubjectPublicKeyInfo is an Ed25519 key equal to the pinned key (client:
//!   the peer we dial; server: a key in the current peer set);
//! - the TLS 1.3 CertificateVerify signature verifies under that key, which proves the peer holds
//!   the identity's secret key for this handshake's transcript.
//!
//! Validity dates, names, key usages and chains are not looked at: the certificate is only a
//! container for the public key, and trust comes from the pin, not from an issuer.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, DistinguishedName, PeerMisbehaved, SignatureScheme};
use tessera_identity::{Identity, IdentityKey};
use tokio::sync::watch;

use crate::{Counters, PeerMap, TransportError};

/// ALPN protocol id: versions the framing that runs inside the TLS channel.
pub(crate) const ALPN: &[u8] = b"tessera-transport/1";

/// The name the dialer asks for. Ignored by the pinned verifier, but rustls needs one.
pub(crate) const SERVER_NAME: &str = "tessera.peer";

/// DER of `SEQUENCE { SEQUENCE { OID 1.3.101.112 (Ed25519) }, BIT STRING (0 unused bits) }`
/// up to the 32 key bytes (RFC 8410 §4).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The identity key inside a certificate, if it holds an Ed25519 key.
pub(crate) fn cert_key(cert: &CertificateDer<'_>) -> Result<IdentityKey, rustls::Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    let spki = parsed.subject_public_key_info();
    let bad = || rustls::Error::General("certificate key is not an Ed25519 identity key".into());
    let key = spki
        .as_ref()
        .strip_prefix(&ED25519_SPKI_PREFIX[..])
        .ok_or_else(bad)?;
    let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
    IdentityKey::from_bytes(key).map_err(|_| bad())
}

/// A self-signed certificate for `identity` and the matching rustls key.
fn certificate(
    identity: &Identity,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TransportError> {
    let tls = |what: &str, e: &dyn std::fmt::Display| TransportError::Tls(format!("{what}: {e}"));
    let der = identity
        .to_pkcs8_der()
        .map_err(|e| tls("identity key", &e))?;
    let pkcs8 = PrivatePkcs8KeyDer::from(der.as_slice());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
        .map_err(|e| tls("identity key", &e))?;
    let params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])
        .map_err(|e| tls("certificate", &e))?;
    let cert = params
        .self_signed(&key_pair)
        .map_err(|e| tls("certificate", &e))?;
    // rustls keeps its own copy of the key for the life of the config.
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
    Ok((cert.der().clone(), key))
}

/// Server side: client certificates must belong to a key in the current peer set.
pub(crate) fn server_config(
    identity: &Identity,
    peers: watch::Receiver<PeerMap>,
    counters: Arc<Counters>,
) -> Result<Arc<rustls::ServerConfig>, TransportError> {
    let provider = provider();
    let verifier = PeerSetVerifier {
        peers,
        counters,
        algs: provider.signature_verification_algorithms,
    };
    let (cert, key) = certificate(identity)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(vec![cert], key)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    // No resumption: a resumed session would skip the peer-set check for a since-removed peer.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Client side: the server's certificate must belong to `expected`.
pub(crate) fn client_config(
    identity: &Identity,
    expected: IdentityKey,
    counters: Arc<Counters>,
) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let provider = provider();
    let verifier = PinnedVerifier {
        expected,
        counters,
        algs: provider.signature_verification_algorithms,
    };
    let (cert, key) = certificate(identity)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(vec![cert], key)
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    // Pinned peers have nothing to gain from resumption, and 0-RTT data would be replayable.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

fn no_chains(intermediates: &[CertificateDer<'_>]) -> Result<(), rustls::Error> {
    if intermediates.is_empty() {
        Ok(())
    } else {
        Err(rustls::Error::General(
            "pinned peers send one self-signed certificate, not a chain".into(),
        ))
    }
}

fn tls12_refused() -> Result<HandshakeSignatureValid, rustls::Error> {
    // Unreachable with TLS 1.3-only configs; refuse rather than trust.
    Err(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into())
}

/// Only Ed25519 can match a pinned identity key, so it is the only scheme offered.
fn schemes() -> Vec<SignatureScheme> {
    vec![SignatureScheme::ED25519]
}

#[derive(Debug)]
struct PinnedVerifier {
    expected: IdentityKey,
    counters: Arc<Counters>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        no_chains(intermediates)?;
        let got = cert_key(end_entity)?;
        if got != self.expected {
            self.counters.bump(&self.counters.pin_mismatches);
            tracing::warn!(expected = %self.expected, presented = %got,
                "peer presented a certificate for a different identity key; refusing");
            return Err(rustls::Error::General(
                "certificate key differs from the pinned peer key".into(),
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        schemes()
    }
}

#[derive(Debug)]
struct PeerSetVerifier {
    peers: watch::Receiver<PeerMap>,
    counters: Arc<Counters>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PeerSetVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        no_chains(intermediates)?;
        let got = cert_key(end_entity)?;
        if !self.peers.borrow().contains_key(&got) {
            self.counters.bump(&self.counters.unknown_peers);
            tracing::warn!(peer = %got, "connection from a key outside the peer set; refusing");
            return Err(rustls::Error::General("unknown peer key".into()));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_carries_the_identity_key() -> Result<(), TransportError> {
        let id = Identity::from_secret_bytes(&[7; 32]);
        let (cert, _) = certificate(&id)?;
        let key = cert_key(&cert).map_err(|e| TransportError::Tls(e.to_string()))?;
        assert_eq!(key, id.public());
        Ok(())
    }
}
