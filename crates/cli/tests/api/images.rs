//! Images through the API: pull, images, tag, rmi, save | load, history, prune.
