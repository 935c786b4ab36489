//! How an event gets from the node that made it to every node with subscribers.
//! In-process for one node; a Redis broker (a later issue) implements the same trait
//! for many, so nothing above this seam changes.

use std::sync::Arc;

use super::hub::{Hub, Published};

pub trait Broker: Send + Sync {
    fn publish(&self, topic: &str, event: Arc<Published>);
}

/// One node: publishing is delivering.
pub struct InProcess {
    pub hub: Arc<Hub>,
}

impl Broker for InProcess {
    fn publish(&self, topic: &str, event: Arc<Published>) {
        self.hub.deliver(topic, &event);
    }
}
