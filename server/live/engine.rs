//! Wake-ups from the engine: its event stream (containers, networks, services, nodes), and on a
//! manager its task list, which has no events of its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::collect::docker;

use super::watch::Wake;

/// How long to wait before asking a silent or absent engine again.
const RETRY: Duration = Duration::from_secs(2);
/// How often a manager's task list is compared with the last one: tasks change state on other
/// nodes without any event reaching this one.
const TASK_POLL: Duration = Duration::from_secs(3);

/// Event actions that change the picture, per event type; everything else (exec, health checks,
/// attach, top, resize...) happens all the time and changes no wiring.
fn relevant(kind: &str, action: &str) -> bool {
    match kind {
        "container" => matches!(
            action,
            "create"
                | "start"
                | "restart"
                | "die"
                | "destroy"
                | "rename"
                | "update"
                | "pause"
                | "unpause"
        ),
        "network" | "service" | "node" => true,
        _ => false,
    }
}

/// What an event tells the feed: the container it concerns, so only that one is inspected again
/// (a container event's actor, a network connect/disconnect's `container` attribute); a
/// container event naming none asks for everything.
fn wake_for(kind: &str, actor: Option<bollard::models::EventActor>) -> Wake {
    let actor = actor.unwrap_or_default();
    let named = match kind {
        "container" => actor.id,
        "network" => actor.attributes.and_then(|a| a.get("container").cloned()),
        _ => None,
    }
    .filter(|id| !id.is_empty());
    match (kind, named) {
        ("container", None) => Wake::Overflow,
        (_, named) => Wake::Engine(named),
    }
}

/// Follow the engine at `url` until `tx` is closed; `status` holds why events are not followed
/// (empty while they are).
pub async fn follow(url: Option<String>, tx: UnboundedSender<Wake>, status: Arc<Mutex<String>>) {
    let set = |s: String| {
        if let Ok(mut st) = status.lock() {
            *st = s;
        }
    };
    loop {
        let u = url.clone();
        let connected = tokio::task::spawn_blocking(move || docker::connect(u.as_deref()))
            .await
            .map_err(|e| e.to_string())
            .and_then(|c| c.map_err(|e| e.to_string()));
        let client = match connected {
            Ok(c) => c,
            Err(why) => {
                set(format!("engine events unavailable: {why}"));
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        set(String::new());
        // Whatever happened while the stream was down is read by a full collection now.
        if tx.send(Wake::Overflow).is_err() {
            return;
        }
        let why = tokio::select! {
            why = events(&client, &tx) => why,
            why = tasks(&client, &tx) => why,
        };
        if tx.is_closed() {
            return;
        }
        set(format!("engine events unavailable: {why}"));
        // Events may have been missed: the feed must not take over engine facts from before.
        if tx.send(Wake::Overflow).is_err() {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Read the event stream until it ends; why it ended.
async fn events(client: &bollard::Docker, tx: &UnboundedSender<Wake>) -> String {
    let filters: HashMap<&str, Vec<&str>> =
        HashMap::from([("type", vec!["container", "network", "service", "node"])]);
    let opts = bollard::query_parameters::EventsOptionsBuilder::default()
        .filters(&filters)
        .build();
    let mut stream = client.events(Some(opts));
    while let Some(item) = stream.next().await {
        match item {
            Ok(ev) => {
                let kind = ev
                    .typ
                    .map(|t| t.to_string())
                    .unwrap_or_default()
                    .to_lowercase();
                let action = ev.action.unwrap_or_default();
                // Actions may carry a suffix (`health_status: healthy`): the verb decides.
                let verb = action.split([':', ' ']).next().unwrap_or("");
                if relevant(&kind, verb) && tx.send(wake_for(&kind, ev.actor)).is_err() {
                    return "stopped".into();
                }
            }
            // An event type this client's models do not know is an error item: keep reading.
            Err(bollard::errors::Error::JsonDataError { .. })
            | Err(bollard::errors::Error::JsonSerdeError { .. }) => {}
            Err(e) => return e.to_string(),
        }
    }
    "the engine closed its event stream".into()
}

/// On a manager, compare the task list every [`TASK_POLL`]; never returns on a worker (it waits).
async fn tasks(client: &bollard::Docker, tx: &UnboundedSender<Wake>) -> String {
    let mut last: Option<BTreeMap<String, String>> = None;
    loop {
        tokio::time::sleep(TASK_POLL).await;
        let manager = client
            .info()
            .await
            .ok()
            .and_then(|i| i.swarm)
            .and_then(|s| s.control_available)
            .unwrap_or(false);
        if !manager {
            continue;
        }
        let Ok(list) = client
            .list_tasks(None::<bollard::query_parameters::ListTasksOptions>)
            .await
        else {
            continue;
        };
        let now: BTreeMap<String, String> = list
            .into_iter()
            .map(|t| {
                let state = t
                    .status
                    .as_ref()
                    .and_then(|s| s.state)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let ctr = t
                    .status
                    .and_then(|s| s.container_status)
                    .and_then(|c| c.container_id)
                    .unwrap_or_default();
                let desired = t.desired_state.map(|s| s.to_string()).unwrap_or_default();
                (
                    t.id.unwrap_or_default(),
                    format!("{state} {desired} {ctr} {}", t.node_id.unwrap_or_default()),
                )
            })
            .collect();
        // The first list counts as a change too: tasks may have moved between the collection
        // that followed the (re)connection and this first look.
        if last.as_ref() != Some(&now) && tx.send(Wake::Engine(None)).is_err() {
            return "stopped".into();
        }
        last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::{relevant, wake_for, Wake};
    use bollard::models::EventActor;
    use std::collections::HashMap;

    #[test]
    fn an_event_names_the_container_it_concerns() {
        let actor = |id: &str, attrs: &[(&str, &str)]| {
            Some(EventActor {
                id: Some(id.into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<HashMap<_, _>>(),
                ),
            })
        };
        assert_eq!(
            wake_for("container", actor("c1", &[("name", "web")])),
            Wake::Engine(Some("c1".into()))
        );
        assert_eq!(
            wake_for(
                "network",
                actor("n1", &[("container", "c2"), ("type", "bridge")])
            ),
            Wake::Engine(Some("c2".into()))
        );
        assert_eq!(
            wake_for("network", actor("n1", &[("type", "bridge")])),
            Wake::Engine(None)
        );
        assert_eq!(wake_for("service", actor("s1", &[])), Wake::Engine(None));
        assert_eq!(wake_for("node", None), Wake::Engine(None));
        // A container event that names no container: everything is read again.
        assert_eq!(wake_for("container", None), Wake::Overflow);
        assert_eq!(wake_for("container", actor("", &[])), Wake::Overflow);
    }

    #[test]
    fn wiring_events_wake_and_busy_noise_does_not() {
        for (k, a) in [
            ("container", "start"),
            ("container", "die"),
            ("container", "destroy"),
            ("network", "connect"),
            ("network", "disconnect"),
            ("service", "update"),
            ("node", "update"),
        ] {
            assert!(relevant(k, a), "{k} {a}");
        }
        for (k, a) in [
            ("container", "exec_start"),
            ("container", "health_status"),
            ("container", "attach"),
            ("container", "top"),
            ("image", "pull"),
            ("volume", "mount"),
        ] {
            assert!(!relevant(k, a), "{k} {a}");
        }
    }
}
