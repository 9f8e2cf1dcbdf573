//! Node operations: get a node, remove nodes, reboot, disable/enable scheduling, and read a
//! node's files (the start task's `startup/stdout.txt`, `stderr.txt`).

use super::{BatchClient, Replay, pool_path};
use crate::batch::error::BatchError;
use crate::batch::models::{
    DisableSchedulingOption, DisableSchedulingRequest, Node, NodeDeallocationOption, RebootNodeRequest,
    RemoveNodesRequest,
};
use reqwest::Method;

impl BatchClient {
    pub async fn get_node(&self, pool_id: &str, node_id: &str) -> Result<Node, BatchError> {
        let url = self.url(&node_path(pool_id, node_id, ""), &[]);
        self.call_json("get node", Method::GET, url, None, Replay::Safe).await
    }

    /// Removes these nodes (at most 100; the pool must be steady). Not resent once the service
    /// may have acted: a second request would find the pool resizing.
    pub async fn remove_nodes(&self, pool_id: &str, request: &RemoveNodesRequest) -> Result<(), BatchError> {
        self.post_json("remove nodes", &pool_path(pool_id, "/removenodes"), request, Replay::OnlyIfNotApplied).await
    }

    /// Reboots a node; `option` says what happens to its running task. Not resent once the
    /// service may have acted (a second reboot finds the node rebooting).
    pub async fn reboot_node(
        &self,
        pool_id: &str,
        node_id: &str,
        option: NodeDeallocationOption,
    ) -> Result<(), BatchError> {
        let request = RebootNodeRequest { node_reboot_option: Some(option) };
        self.post_json("reboot node", &node_path(pool_id, node_id, "/reboot"), &request, Replay::OnlyIfNotApplied).await
    }

    pub async fn disable_node_scheduling(
        &self,
        pool_id: &str,
        node_id: &str,
        option: DisableSchedulingOption,
    ) -> Result<(), BatchError> {
        let request = DisableSchedulingRequest { node_disable_scheduling_option: Some(option) };
        let path = node_path(pool_id, node_id, "/disablescheduling");
        self.post_json("disable node scheduling", &path, &request, Replay::Safe).await
    }

    pub async fn enable_node_scheduling(&self, pool_id: &str, node_id: &str) -> Result<(), BatchError> {
        let url = self.url(&node_path(pool_id, node_id, "/enablescheduling"), &[]);
        self.call("enable node scheduling", Method::POST, url, None, Replay::Safe).await.map(drop)
    }

    /// A node file as text (`startup/stdout.txt`); bytes that are not UTF-8 show as U+FFFD.
    pub async fn node_file(&self, pool_id: &str, node_id: &str, path: &str) -> Result<String, BatchError> {
        let file: String = path.split('/').map(segment).collect::<Vec<_>>().join("/");
        let url = self.url(&node_path(pool_id, node_id, &format!("/files/{file}")), &[]);
        let answer = self.call("get node file", Method::GET, url, None, Replay::Safe).await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }
}

fn segment(text: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    encoded.replace('+', "%20")
}

fn node_path(pool_id: &str, node_id: &str, suffix: &str) -> String {
    pool_path(pool_id, &format!("/nodes/{}{suffix}", segment(node_id)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_ids_are_escaped_in_paths() {
        assert_eq!(super::node_path("p 1", "n/1", "/reboot"), "/pools/p%201/nodes/n%2F1/reboot");
    }
}
