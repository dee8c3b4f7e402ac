//! `lindocker build`, engine side: the build context and `COPY`/`ADD` ([`context`],
//! [`copy`]), and the builder that runs a Dockerfile's steps.

pub mod context;
pub mod copy;
