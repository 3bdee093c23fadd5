//! Remote execution: a whole run on another machine, driven over any stdio pipe.
//!
//! `osiris worker` ([`worker`]) reads commands as JSON lines on stdin and answers on stdout;
//! `osiris run … --remote CMD` ([`host`]) starts CMD (`ssh host osiris worker`, `docker exec -i
//! box osiris worker`, …), sends it the compiled manifest and the resolved connections, and
//! mirrors the remote run into a local run directory as it happens. The messages are in
//! [`protocol`]; `docs/worker-protocol.md` describes the conversation.

pub mod host;
pub mod protocol;
pub mod worker;
