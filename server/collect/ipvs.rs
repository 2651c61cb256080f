//! IPVS services per namespace over generic netlink.
