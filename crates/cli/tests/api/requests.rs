//! Hand-written requests: version negotiation, Docker's error shape and status codes,
//! bad and hostile requests, clients that stall or vanish.
