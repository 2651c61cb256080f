//! Links, addresses, routes, neighbours, FDB and nsid map of a namespace over rtnetlink.
