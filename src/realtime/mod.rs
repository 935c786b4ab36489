//! What is live rather than stored: who is around now. (The WebSocket gateway and the
//! hub join this module with the realtime issue.)

pub mod presence;
