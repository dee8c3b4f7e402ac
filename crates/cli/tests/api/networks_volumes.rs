//! Networks and volumes through the API: create, list, inspect, connect, remove, prune.
