//! rtnetlink datagrams as the collector's socket decodes them: links, addresses, routes,
//! neighbours, bridge FDB entries and nsid answers.
#![no_main]

use dockmap::collect::link::decode;
use dockmap::collect::link::nsid::nsid_answer;
use dockmap::collect::link::socket::Rtnl;
use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut messages = Vec::new();
    // A datagram holds messages back to back, each as long as its header says.
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let len = len.clamp(16, rest.len());
        let Ok(msg) = NetlinkMessage::<Rtnl>::deserialize(&rest[..len]) else {
            break;
        };
        if let NetlinkPayload::InnerMessage(Rtnl::Msg(m)) = msg.payload {
            messages.push(m);
        }
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
        if rest.is_empty() {
            break;
        }
    }
    for m in &messages {
        match m {
            RouteNetlinkMessage::NewLink(l) => {
                let _ = decode::link(l);
            }
            RouteNetlinkMessage::NewAddress(a) => {
                let _ = decode::address(a);
            }
            RouteNetlinkMessage::NewRoute(r) => {
                let _ = decode::route(r);
            }
            RouteNetlinkMessage::NewNeighbour(n) => {
                let _ = decode::neighbour(n);
                let _ = decode::fdb(n);
            }
            _ => {}
        }
    }
    let _ = nsid_answer(&messages);
});
