//! Packet-filter rules per namespace (iptables-save, ip6tables-save, nft).
