//! IPsec (xfrm) facts of one namespace: security associations and policies, never their keys.
//!
//! A snapshot is made to be shared, so an SA keeps only what identifies it (addresses, protocol,
//! SPI, reqid, mode) and the names of its algorithms; the key bytes the kernel sends are dropped
//! while decoding and never reach this model.

use serde::{Deserialize, Serialize};

/// The SAs and policies of one namespace (`ip xfrm state` / `ip xfrm policy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xfrm {
    /// Security associations (XFRM_MSG_GETSA dump).
    pub states: Vec<XfrmSa>,
    /// Security policies (XFRM_MSG_GETPOLICY dump).
    pub policies: Vec<XfrmPolicy>,
}

impl Xfrm {
    /// Sort into canonical order (the kernel dumps in hash order).
    pub fn normalize(&mut self) {
        self.states.sort_by(|a, b| {
            (&a.src, &a.dst, &a.proto, a.spi).cmp(&(&b.src, &b.dst, &b.proto, b.spi))
        });
        self.policies.sort_by(|a, b| {
            (&a.dir, &a.src, &a.dst, a.priority, a.index)
                .cmp(&(&b.dir, &b.src, &b.dst, b.priority, b.index))
        });
    }
}

/// A packet mark and mask (XFRMA_MARK).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XfrmMark {
    /// The mark value.
    pub value: u32,
    /// The mask it is compared under.
    pub mask: u32,
}

/// One security association (no key material).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XfrmSa {
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// `esp`, `ah`, `comp`, or the protocol number.
    pub proto: String,
    /// Security parameter index.
    pub spi: u32,
    /// Request id (Docker's overlay uses 0xD0C4E3).
    pub reqid: u32,
    /// `transport`, `tunnel`, `beet`, ...
    pub mode: String,
    /// Algorithm names by role, e.g. `aead rfc4106(gcm(aes))`: names only, never keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algorithms: Vec<String>,
    /// The mark the SA is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<XfrmMark>,
}

/// One security policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XfrmPolicy {
    /// `in`, `out` or `fwd`.
    pub dir: String,
    /// Source selector in CIDR form.
    pub src: String,
    /// Destination selector in CIDR form.
    pub dst: String,
    /// Selector protocol number (0 = any; 17 = UDP).
    pub proto: u8,
    /// Selector destination port, when one is matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// `allow` or `block`.
    pub action: String,
    /// Priority (lower wins).
    pub priority: u32,
    /// The kernel's index of the policy.
    pub index: u32,
    /// The mark a packet must carry for the policy to apply (Docker: 0xD0C4E3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<XfrmMark>,
    /// The SAs the policy asks for (XFRMA_TMPL).
    pub templates: Vec<XfrmTemplate>,
}

/// A policy's template: which SA to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XfrmTemplate {
    /// Tunnel/transport source address (may be empty for "any").
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// `esp`, `ah`, `comp`, or the protocol number.
    pub proto: String,
    /// SPI asked for (0 = any).
    pub spi: u32,
    /// Request id.
    pub reqid: u32,
    /// `transport`, `tunnel`, ...
    pub mode: String,
}
