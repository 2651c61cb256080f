//! IPVS generic netlink messages: encode requests, decode services and destinations.
//!
//! No crate reads fwmark services (what Docker's routing mesh uses), so the
//! attributes of linux/ip_vs.h are written out here on netlink-packet-core.

use std::net::{Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    parse_string, parse_u16, parse_u16_be, parse_u32, parse_u32_be, DecodeError, DefaultNla,
    Emitable, ErrorContext, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla,
    NlaBuffer, NlasIterator, Parseable, ParseableParametrized, NLA_F_NESTED, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::traits::GenlFamily;
use netlink_packet_generic::{GenlHeader, GenlMessage};

use crate::snapshot::{IpvsDestination, IpvsService};

/// Generic netlink family name of IPVS.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// Version in the generic netlink header.
pub const IPVS_GENL_VERSION: u8 = 0x1;

/// Commands (enum in linux/ip_vs.h).
pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
/// Get one service or dump all.
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
/// A destination, as the kernel answers a destination dump.
pub const IPVS_CMD_NEW_DEST: u8 = 5;
/// Dump the destinations of one service.
pub const IPVS_CMD_GET_DEST: u8 = 8;

/// Nested service attribute of a command.
pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
/// Nested destination attribute of a command.
pub const IPVS_CMD_ATTR_DEST: u16 = 2;

/// Service attributes (inside IPVS_CMD_ATTR_SERVICE).
pub const IPVS_SVC_ATTR_AF: u16 = 1;
/// u16 IPPROTO_*.
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
/// union nf_inet_addr (16 bytes).
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
/// be16.
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
/// u32 firewall mark.
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
/// NUL-terminated scheduler name.
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
/// struct ip_vs_flags { u32 flags; u32 mask; }.
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
/// u32 persistence timeout in seconds.
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
/// be32 persistence netmask.
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
/// NUL-terminated persistence engine name.
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;

/// Destination attributes (inside IPVS_CMD_ATTR_DEST).
pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
/// be16.
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
/// u32 connection flags masked with IP_VS_CONN_F_FWD_MASK.
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
/// u32 (the kernel's int weight).
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
/// u32 active connections.
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
/// u32 inactive connections.
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
/// u16 address family of the destination (may differ from the service's).
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;

/// Forwarding methods (IP_VS_CONN_F_*).
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;

const AF_INET: u16 = libc::AF_INET as u16;
const AF_INET6: u16 = libc::AF_INET6 as u16;

/// The name of a forwarding method, as ipvsadm shows it.
pub fn forward_name(conn_flags: u32) -> String {
    match conn_flags & IP_VS_CONN_F_FWD_MASK {
        0 => "masq".to_owned(),
        1 => "local".to_owned(),
        2 => "tunnel".to_owned(),
        3 => "route".to_owned(),
        4 => "bypass".to_owned(),
        other => format!("unknown({other})"),
    }
}

/// An attribute inside IPVS_CMD_ATTR_SERVICE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcAttr {
    /// Address family (AF_INET, AF_INET6).
    Af(u16),
    /// IPPROTO_* of an address service.
    Protocol(u16),
    /// Virtual address as sent (16 bytes, IPv4 in the first 4).
    Addr(Vec<u8>),
    /// Virtual port (host order here, big endian on the wire).
    Port(u16),
    /// Firewall mark of a fwmark service.
    Fwmark(u32),
    /// Scheduler.
    SchedName(String),
    /// IP_VS_SVC_F_* flags and mask.
    Flags {
        /// Flags.
        flags: u32,
        /// Which flags are meant.
        mask: u32,
    },
    /// Persistence timeout, seconds.
    Timeout(u32),
    /// Persistence netmask (host order here).
    Netmask(u32),
    /// Persistence engine.
    PeName(String),
    /// Anything else (statistics, newer attributes), kept raw.
    Other(DefaultNla),
}

/// An attribute inside IPVS_CMD_ATTR_DEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    /// Real server address as sent (16 bytes).
    Addr(Vec<u8>),
    /// Real server port (host order here).
    Port(u16),
    /// Connection flags holding the forwarding method.
    FwdMethod(u32),
    /// Weight.
    Weight(u32),
    /// Active connections.
    ActiveConns(u32),
    /// Inactive connections.
    InactConns(u32),
    /// Address family of the real server.
    AddrFamily(u16),
    /// Anything else (thresholds, statistics, tunnel settings), kept raw.
    Other(DefaultNla),
}

/// A top-level attribute of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdAttr {
    /// A service.
    Service(Vec<SvcAttr>),
    /// A destination.
    Dest(Vec<DestAttr>),
    /// Anything else, kept raw.
    Other(DefaultNla),
}

/// The payload of an IPVS generic netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// IPVS_CMD_*.
    pub cmd: u8,
    /// Its attributes.
    pub attrs: Vec<CmdAttr>,
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        match self {
            SvcAttr::Af(_) | SvcAttr::Protocol(_) | SvcAttr::Port(_) => 2,
            SvcAttr::Addr(a) => a.len(),
            SvcAttr::Fwmark(_) | SvcAttr::Timeout(_) | SvcAttr::Netmask(_) => 4,
            SvcAttr::SchedName(s) | SvcAttr::PeName(s) => s.len() + 1,
            SvcAttr::Flags { .. } => 8,
            SvcAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            SvcAttr::Af(_) => IPVS_SVC_ATTR_AF,
            SvcAttr::Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            SvcAttr::Addr(_) => IPVS_SVC_ATTR_ADDR,
            SvcAttr::Port(_) => IPVS_SVC_ATTR_PORT,
            SvcAttr::Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SvcAttr::SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            SvcAttr::Flags { .. } => IPVS_SVC_ATTR_FLAGS,
            SvcAttr::Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            SvcAttr::Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            SvcAttr::PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            SvcAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            SvcAttr::Af(v) | SvcAttr::Protocol(v) => buffer[..2].copy_from_slice(&v.to_ne_bytes()),
            SvcAttr::Port(v) => buffer[..2].copy_from_slice(&v.to_be_bytes()),
            SvcAttr::Addr(a) => buffer[..a.len()].copy_from_slice(a),
            SvcAttr::Fwmark(v) | SvcAttr::Timeout(v) => {
                buffer[..4].copy_from_slice(&v.to_ne_bytes())
            }
            SvcAttr::Netmask(v) => buffer[..4].copy_from_slice(&v.to_be_bytes()),
            SvcAttr::SchedName(s) | SvcAttr::PeName(s) => {
                buffer[..s.len()].copy_from_slice(s.as_bytes());
                buffer[s.len()] = 0;
            }
            SvcAttr::Flags { flags, mask } => {
                buffer[..4].copy_from_slice(&flags.to_ne_bytes());
                buffer[4..8].copy_from_slice(&mask.to_ne_bytes());
            }
            SvcAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&T>> for SvcAttr {
    fn parse(buf: &NlaBuffer<&T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_SVC_ATTR_AF => SvcAttr::Af(parse_u16(v).context("IPVS_SVC_ATTR_AF")?),
            IPVS_SVC_ATTR_PROTOCOL => {
                SvcAttr::Protocol(parse_u16(v).context("IPVS_SVC_ATTR_PROTOCOL")?)
            }
            IPVS_SVC_ATTR_ADDR => SvcAttr::Addr(v.to_vec()),
            IPVS_SVC_ATTR_PORT => SvcAttr::Port(parse_u16_be(v).context("IPVS_SVC_ATTR_PORT")?),
            IPVS_SVC_ATTR_FWMARK => SvcAttr::Fwmark(parse_u32(v).context("IPVS_SVC_ATTR_FWMARK")?),
            IPVS_SVC_ATTR_SCHED_NAME => {
                SvcAttr::SchedName(parse_string(v).context("IPVS_SVC_ATTR_SCHED_NAME")?)
            }
            IPVS_SVC_ATTR_FLAGS => {
                if v.len() != 8 {
                    return Err(DecodeError::from(format!(
                        "IPVS_SVC_ATTR_FLAGS has {} bytes, not 8",
                        v.len()
                    )));
                }
                SvcAttr::Flags {
                    flags: parse_u32(&v[..4])?,
                    mask: parse_u32(&v[4..])?,
                }
            }
            IPVS_SVC_ATTR_TIMEOUT => {
                SvcAttr::Timeout(parse_u32(v).context("IPVS_SVC_ATTR_TIMEOUT")?)
            }
            IPVS_SVC_ATTR_NETMASK => {
                SvcAttr::Netmask(parse_u32_be(v).context("IPVS_SVC_ATTR_NETMASK")?)
            }
            IPVS_SVC_ATTR_PE_NAME => {
                SvcAttr::PeName(parse_string(v).context("IPVS_SVC_ATTR_PE_NAME")?)
            }
            _ => SvcAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        match self {
            DestAttr::Addr(a) => a.len(),
            DestAttr::Port(_) | DestAttr::AddrFamily(_) => 2,
            DestAttr::FwdMethod(_)
            | DestAttr::Weight(_)
            | DestAttr::ActiveConns(_)
            | DestAttr::InactConns(_) => 4,
            DestAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DestAttr::Addr(_) => IPVS_DEST_ATTR_ADDR,
            DestAttr::Port(_) => IPVS_DEST_ATTR_PORT,
            DestAttr::FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            DestAttr::Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            DestAttr::ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            DestAttr::InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            DestAttr::AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            DestAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            DestAttr::Addr(a) => buffer[..a.len()].copy_from_slice(a),
            DestAttr::Port(v) => buffer[..2].copy_from_slice(&v.to_be_bytes()),
            DestAttr::AddrFamily(v) => buffer[..2].copy_from_slice(&v.to_ne_bytes()),
            DestAttr::FwdMethod(v)
            | DestAttr::Weight(v)
            | DestAttr::ActiveConns(v)
            | DestAttr::InactConns(v) => buffer[..4].copy_from_slice(&v.to_ne_bytes()),
            DestAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&T>> for DestAttr {
    fn parse(buf: &NlaBuffer<&T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_DEST_ATTR_ADDR => DestAttr::Addr(v.to_vec()),
            IPVS_DEST_ATTR_PORT => DestAttr::Port(parse_u16_be(v).context("IPVS_DEST_ATTR_PORT")?),
            IPVS_DEST_ATTR_FWD_METHOD => {
                DestAttr::FwdMethod(parse_u32(v).context("IPVS_DEST_ATTR_FWD_METHOD")?)
            }
            IPVS_DEST_ATTR_WEIGHT => {
                DestAttr::Weight(parse_u32(v).context("IPVS_DEST_ATTR_WEIGHT")?)
            }
            IPVS_DEST_ATTR_ACTIVE_CONNS => {
                DestAttr::ActiveConns(parse_u32(v).context("IPVS_DEST_ATTR_ACTIVE_CONNS")?)
            }
            IPVS_DEST_ATTR_INACT_CONNS => {
                DestAttr::InactConns(parse_u32(v).context("IPVS_DEST_ATTR_INACT_CONNS")?)
            }
            IPVS_DEST_ATTR_ADDR_FAMILY => {
                DestAttr::AddrFamily(parse_u16(v).context("IPVS_DEST_ATTR_ADDR_FAMILY")?)
            }
            _ => DestAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// A nested attribute: the emitted inner attributes with NLA_F_NESTED set.
fn nested_len<A: Nla>(inner: &[A]) -> usize {
    inner.buffer_len()
}

impl Nla for CmdAttr {
    fn value_len(&self) -> usize {
        match self {
            CmdAttr::Service(a) => nested_len(a),
            CmdAttr::Dest(a) => nested_len(a),
            CmdAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            CmdAttr::Service(_) => IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED,
            CmdAttr::Dest(_) => IPVS_CMD_ATTR_DEST | NLA_F_NESTED,
            CmdAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            CmdAttr::Service(a) => a.as_slice().emit(buffer),
            CmdAttr::Dest(a) => a.as_slice().emit(buffer),
            CmdAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

fn parse_nested<A>(value: &[u8], what: &str) -> Result<Vec<A>, DecodeError>
where
    A: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(value)
        .map(|nla| nla.and_then(|nla| A::parse(&nla)))
        .collect::<Result<Vec<_>, _>>()
        .context(format!("in {what}"))
}

impl<T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&T>> for CmdAttr {
    fn parse(buf: &NlaBuffer<&T>) -> Result<Self, DecodeError> {
        Ok(match buf.kind() {
            IPVS_CMD_ATTR_SERVICE => {
                CmdAttr::Service(parse_nested(buf.value(), "IPVS_CMD_ATTR_SERVICE")?)
            }
            IPVS_CMD_ATTR_DEST => CmdAttr::Dest(parse_nested(buf.value(), "IPVS_CMD_ATTR_DEST")?),
            _ => CmdAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            attrs: parse_nested(buf, "IPVS message")?,
        })
    }
}

/// What identifies a service to the kernel (the key of a destination dump).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceKey {
    /// Address family.
    pub af: u16,
    /// Firewall mark, for fwmark services.
    pub fwmark: Option<u32>,
    /// IPPROTO_*, for address services.
    pub protocol: u16,
    /// Address as the kernel sent it.
    pub addr: Vec<u8>,
    /// Port.
    pub port: u16,
}

impl ServiceKey {
    fn attrs(&self) -> Vec<SvcAttr> {
        let mut attrs = vec![SvcAttr::Af(self.af)];
        match self.fwmark {
            Some(mark) => attrs.push(SvcAttr::Fwmark(mark)),
            None => attrs.extend([
                SvcAttr::Protocol(self.protocol),
                SvcAttr::Addr(self.addr.clone()),
                SvcAttr::Port(self.port),
            ]),
        }
        attrs
    }
}

fn finished(mut msg: NetlinkMessage<GenlMessage<IpvsMessage>>, flags: u16, seq: u32) -> Vec<u8> {
    msg.header.flags = flags;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

fn ipvs_request(
    family_id: u16,
    cmd: u8,
    attrs: Vec<CmdAttr>,
) -> NetlinkMessage<GenlMessage<IpvsMessage>> {
    let mut genl = GenlMessage::from_payload(IpvsMessage { cmd, attrs });
    genl.set_resolved_family_id(family_id);
    NetlinkMessage::from(genl)
}

/// CTRL_CMD_GETFAMILY for the generic netlink family `name` ("IPVS").
pub fn get_family_request(seq: u32, name: &str) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: vec![GenlCtrlAttrs::FamilyName(name.to_owned())],
    });
    genl.finalize();
    let mut msg = NetlinkMessage::from(genl);
    msg.header.flags = NLM_F_REQUEST;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// IPVS_CMD_GET_SERVICE dump of every service.
pub fn get_services_request(family_id: u16, seq: u32) -> Vec<u8> {
    finished(
        ipvs_request(family_id, IPVS_CMD_GET_SERVICE, Vec::new()),
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    )
}

/// IPVS_CMD_GET_DEST dump of one service's destinations.
pub fn get_destinations_request(family_id: u16, seq: u32, key: &ServiceKey) -> Vec<u8> {
    finished(
        ipvs_request(
            family_id,
            IPVS_CMD_GET_DEST,
            vec![CmdAttr::Service(key.attrs())],
        ),
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    )
}

/// The messages of one datagram, each with its header (a datagram may hold several).
pub fn split_datagram(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut messages = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let msg = NetlinkBuffer::new_checked(&buf[offset..])?;
        let len = msg.length() as usize;
        messages.push(&buf[offset..offset + len]);
        offset += (len + 3) & !3;
    }
    Ok(messages)
}

/// The header of one message (type, flags, sequence), checked for length.
pub fn header_of(msg: &[u8]) -> Result<NetlinkHeader, DecodeError> {
    let buf = NetlinkBuffer::new_checked(msg)?;
    NetlinkHeader::parse(&buf)
}

/// The family id in a CTRL_CMD_NEWFAMILY reply (one whole message).
///
/// Read by hand: the controller reply grows new attributes over kernel
/// versions, and only the id is needed.
pub fn family_id_of(msg: &[u8]) -> Result<u16, DecodeError> {
    const CTRL_ATTR_FAMILY_ID: u16 = 1;
    let buf = NetlinkBuffer::new_checked(msg)?;
    let attrs = buf
        .payload()
        .get(4..)
        .ok_or_else(|| DecodeError::from("controller reply without a generic netlink header"))?;
    for nla in NlasIterator::new(attrs) {
        let nla = nla?;
        if nla.kind() == CTRL_ATTR_FAMILY_ID {
            return parse_u16(nla.value()).context("CTRL_ATTR_FAMILY_ID");
        }
    }
    Err(DecodeError::from(
        "controller reply without CTRL_ATTR_FAMILY_ID",
    ))
}

/// Decode one whole IPVS message (header included).
pub fn decode_message(msg: &[u8]) -> Result<IpvsMessage, DecodeError> {
    let parsed = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(msg)?;
    match parsed.payload {
        NetlinkPayload::InnerMessage(genl) => Ok(genl.payload),
        NetlinkPayload::Error(e) => Err(DecodeError::from(format!(
            "netlink error {}",
            e.code.map_or(0, |c| c.get())
        ))),
        _ => Err(DecodeError::from("not an IPVS message")),
    }
}

/// Decode an IPVS_CMD_NEW_SERVICE message into a service (no destinations yet) and its key.
pub fn decode_service(msg: &[u8]) -> Result<(IpvsService, ServiceKey), DecodeError> {
    let message = decode_message(msg)?;
    if message.cmd != IPVS_CMD_NEW_SERVICE {
        return Err(DecodeError::from(format!(
            "expected IPVS_CMD_NEW_SERVICE, got command {}",
            message.cmd
        )));
    }
    let attrs = message
        .attrs
        .into_iter()
        .find_map(|a| match a {
            CmdAttr::Service(s) => Some(s),
            _ => None,
        })
        .ok_or_else(|| DecodeError::from("service message without IPVS_CMD_ATTR_SERVICE"))?;
    service_from(&attrs)
}

/// Decode an IPVS_CMD_NEW_DEST message; `service_af` applies when the kernel does not say the destination's family.
pub fn decode_destination(msg: &[u8], service_af: u16) -> Result<IpvsDestination, DecodeError> {
    let message = decode_message(msg)?;
    if message.cmd != IPVS_CMD_NEW_DEST {
        return Err(DecodeError::from(format!(
            "expected IPVS_CMD_NEW_DEST, got command {}",
            message.cmd
        )));
    }
    let attrs = message
        .attrs
        .into_iter()
        .find_map(|a| match a {
            CmdAttr::Dest(d) => Some(d),
            _ => None,
        })
        .ok_or_else(|| DecodeError::from("destination message without IPVS_CMD_ATTR_DEST"))?;
    destination_from(&attrs, service_af)
}

fn family_number(af: u16) -> Result<u8, DecodeError> {
    match af {
        AF_INET => Ok(4),
        AF_INET6 => Ok(6),
        other => Err(DecodeError::from(format!("unknown address family {other}"))),
    }
}

fn address(af: u16, raw: &[u8]) -> Result<String, DecodeError> {
    match af {
        AF_INET => {
            let b: [u8; 4] = raw
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| DecodeError::invalid_ip_address(raw.len()))?;
            Ok(Ipv4Addr::from(b).to_string())
        }
        AF_INET6 => {
            let b: [u8; 16] = raw
                .get(..16)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| DecodeError::invalid_ip_address(raw.len()))?;
            Ok(Ipv6Addr::from(b).to_string())
        }
        other => Err(DecodeError::from(format!("unknown address family {other}"))),
    }
}

fn protocol_name(protocol: u16) -> String {
    match protocol {
        6 => "tcp".to_owned(),
        17 => "udp".to_owned(),
        132 => "sctp".to_owned(),
        other => format!("proto{other}"),
    }
}

/// A service from its attributes: a fwmark service, or protocol + address + port.
pub fn service_from(attrs: &[SvcAttr]) -> Result<(IpvsService, ServiceKey), DecodeError> {
    let mut af = None;
    let mut key = ServiceKey {
        af: 0,
        fwmark: None,
        protocol: 0,
        addr: Vec::new(),
        port: 0,
    };
    let (mut protocol, mut addr, mut port) = (None, None, None);
    let mut service = IpvsService::default();
    for attr in attrs {
        match attr {
            SvcAttr::Af(v) => af = Some(*v),
            SvcAttr::Protocol(v) => protocol = Some(*v),
            SvcAttr::Addr(v) => addr = Some(v.clone()),
            SvcAttr::Port(v) => port = Some(*v),
            // The kernel sends a mark only for fwmark services; 0 means none.
            SvcAttr::Fwmark(v) if *v != 0 => key.fwmark = Some(*v),
            SvcAttr::SchedName(s) => service.scheduler = s.clone(),
            SvcAttr::Flags { flags, mask } => service.flags = flags & mask,
            SvcAttr::Timeout(v) => service.timeout = *v,
            _ => {}
        }
    }
    let af = af.ok_or_else(|| DecodeError::from("service without IPVS_SVC_ATTR_AF"))?;
    key.af = af;
    service.family = family_number(af)?;
    match key.fwmark {
        Some(mark) => service.fwmark = Some(mark),
        None => {
            let (Some(p), Some(a), Some(port)) = (protocol, addr, port) else {
                return Err(DecodeError::from(
                    "service has neither a firewall mark nor protocol, address and port",
                ));
            };
            service.protocol = Some(protocol_name(p));
            service.address = Some(address(af, &a)?);
            service.port = Some(port);
            key.protocol = p;
            key.addr = a;
            key.port = port;
        }
    }
    Ok((service, key))
}

/// A destination from its attributes.
pub fn destination_from(
    attrs: &[DestAttr],
    service_af: u16,
) -> Result<IpvsDestination, DecodeError> {
    let mut af = service_af;
    let mut addr = None;
    let mut dest = IpvsDestination::default();
    let mut forward = None;
    for attr in attrs {
        match attr {
            DestAttr::Addr(v) => addr = Some(v.clone()),
            DestAttr::Port(v) => dest.port = *v,
            DestAttr::FwdMethod(v) => forward = Some(*v),
            DestAttr::Weight(v) => dest.weight = *v as i32,
            DestAttr::ActiveConns(v) => dest.active_conns = *v,
            DestAttr::InactConns(v) => dest.inactive_conns = *v,
            DestAttr::AddrFamily(v) => af = *v,
            DestAttr::Other(_) => {}
        }
    }
    let addr = addr.ok_or_else(|| DecodeError::from("destination without IPVS_DEST_ATTR_ADDR"))?;
    dest.address = address(af, &addr)?;
    let forward = forward
        .ok_or_else(|| DecodeError::from("destination without IPVS_DEST_ATTR_FWD_METHOD"))?;
    dest.forward = forward_name(forward);
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwmark_key_round_trips_through_the_encoder() {
        let key = ServiceKey {
            af: AF_INET,
            fwmark: Some(0x102),
            protocol: 0,
            addr: Vec::new(),
            port: 0,
        };
        let req = get_destinations_request(0x22, 7, &key);
        let msg = decode_message(&req).unwrap();
        assert_eq!(msg.cmd, IPVS_CMD_GET_DEST);
        assert_eq!(
            msg.attrs,
            vec![CmdAttr::Service(vec![
                SvcAttr::Af(AF_INET),
                SvcAttr::Fwmark(0x102)
            ])]
        );
    }

    #[test]
    fn forward_names() {
        assert_eq!(forward_name(0), "masq");
        assert_eq!(forward_name(0x100 | 3), "route");
        assert_eq!(forward_name(2), "tunnel");
        assert_eq!(forward_name(1), "local");
    }
}
