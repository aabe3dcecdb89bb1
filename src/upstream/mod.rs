//! Everything that goes to AWS: the one builder of signed requests (the client's rewritten
//! request and the filter's own calls alike), signing, and the jobs that make calls of their own.

pub mod calls;
pub mod jobs;
pub mod request;
pub mod sign;
