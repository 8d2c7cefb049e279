//! The A2A types read and write the protocol's JSON form, as the official SDK sends it, and 0.3's
//! spellings of states, roles and methods.

use protocol::a2a::{
    Method, Part, PartContent, Role, SendMessageRequest, SendMessageResponse, StreamResponse, Task,
    TaskState, TaskStatus,
};
use serde_json::json;

#[test]
fn a_message_as_the_sdk_sends_it_reads() {
    // As `json_format.MessageToDict(SendMessageRequest(...))` writes it.
    let sent = json!({"message": {"messageId": "m1", "role": "ROLE_USER",
                                  "parts": [{"text": "hi"}, {"data": {"a": 1.0}}]},
                      "configuration": {"returnImmediately": true}});
    let request: SendMessageRequest = serde_json::from_value(sent).unwrap();
    assert_eq!(request.message.role, Role::User);
    assert_eq!(
        request.message.parts[0].content,
        PartContent::Text("hi".to_owned())
    );
    assert_eq!(
        request.message.parts[1].content,
        PartContent::Data(json!({"a": 1.0}))
    );
    assert!(!request.configuration.unwrap().waits());
}

#[test]
fn a_task_writes_its_one_ofs_and_enums_as_the_protocol_does() {
    let task = Task {
        id: "t".to_owned(),
        context_id: "t".to_owned(),
        status: TaskStatus {
            state: TaskState::Completed,
            message: None,
            timestamp: None,
        },
        artifacts: Vec::new(),
        history: Vec::new(),
        metadata: None,
    };
    let written = serde_json::to_value(SendMessageResponse::Task(task.clone())).unwrap();
    assert_eq!(
        written,
        json!({"task": {"id": "t", "contextId": "t", "status": {"state": "TASK_STATE_COMPLETED"}}})
    );
    let streamed = serde_json::to_value(StreamResponse::Task(task)).unwrap();
    assert_eq!(streamed["task"]["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(
        serde_json::to_value(Part::data(json!({"x": 1}))).unwrap(),
        json!({"data": {"x": 1}})
    );
}

#[test]
fn version_0_3_spellings_are_read() {
    let part: Part = serde_json::from_value(json!({"kind": "text", "text": "hello"})).unwrap();
    assert_eq!(part.content, PartContent::Text("hello".to_owned()));
    let state: TaskState = serde_json::from_value(json!("input-required")).unwrap();
    assert_eq!(state, TaskState::InputRequired);
    let role: Role = serde_json::from_value(json!("agent")).unwrap();
    assert_eq!(role, Role::Agent);
    assert_eq!(Method::from_name("message/send"), Some(Method::SendMessage));
    assert_eq!(
        Method::from_name("tasks/resubscribe"),
        Some(Method::SubscribeToTask)
    );
    assert_eq!(Method::from_name("tasks/pushNotificationConfig/set"), None);
    let blocking: SendMessageRequest = serde_json::from_value(
        json!({"message": {"messageId": "m", "role": "user", "parts": []}, "configuration": {"blocking": false}}),
    )
    .unwrap();
    assert!(!blocking.configuration.unwrap().waits());
}
