//! Everything that goes to AWS: the one builder of signed requests (the client's rewritten
//! request and the filter's own calls alike), the calls themselves, and signing. The jobs that
//! make calls of their own are in `crate::jobs`, beside this.

pub mod calls;
pub mod request;
pub mod sign;
