//! Responses API tools → Bedrock tool specs, and Bedrock tool names back to Responses calls.
//!
//! Bedrock knows only JSON tools named `^[a-zA-Z0-9_-]{1,64}$`. So:
//! - `function` tools pass through (names outside that pattern are mapped, see [`bedrock_name`]);
//! - `custom` (freeform) tools become a JSON tool with one string argument, `input`;
//! - `namespace` tools are flattened to `<namespace>__<name>`;
//! - `tool_search` run by the client becomes a function named `tool_search`;
//! - hosted tools (web_search, file_search, ...) are dropped: Bedrock cannot run them.
//!
//! [`ToolNames`] remembers what each Bedrock name stands for, to rebuild the call item.

use crate::api::responses::wire::{CustomTool, ToolDef};
use crate::bedrock::converse::{InputSchema, Tool, ToolSpec};
use crate::converse::tools::{function_spec, tool_choice_keyword, valid_tool_name, MAX_TOOLS};
use crate::error::ApiError;
use crate::stable_hash::stable_hash;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The Bedrock name of the client-executed tool search.
pub const TOOL_SEARCH: &str = "tool_search";
/// The one argument of a freeform tool as Bedrock sees it.
pub const CUSTOM_INPUT: &str = "input";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Function,
    Custom,
    ToolSearch,
}

/// What a Bedrock tool name stands for on the Responses side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTarget {
    pub kind: CallKind,
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    by_bedrock_name: BTreeMap<String, ToolTarget>,
}

impl ToolNames {
    /// The Responses call a Bedrock tool name stands for; unknown names are plain functions.
    pub fn target(&self, bedrock_name: &str) -> ToolTarget {
        self.by_bedrock_name
            .get(bedrock_name)
            .cloned()
            .unwrap_or_else(|| ToolTarget {
                kind: CallKind::Function,
                namespace: None,
                name: bedrock_name.to_string(),
            })
    }

    /// The Bedrock name of a tool the client calls `name` (in `namespace`), if offered.
    pub fn find(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        self.by_bedrock_name
            .iter()
            .find(|(_, t)| t.name == name && t.namespace.as_deref() == namespace)
            .map(|(k, _)| k.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.by_bedrock_name.is_empty()
    }
}

/// Bedrock name for tool `name` in `namespace`: `ns__name` when that is a valid Bedrock name,
/// else the invalid characters replaced and a hash of the original appended (still unique).
pub fn bedrock_name(namespace: Option<&str>, name: &str) -> String {
    let joined = match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{ns}__{name}"),
        None => name.to_string(),
    };
    if valid_tool_name(&joined) {
        return joined;
    }
    let cleaned: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(55)
        .collect();
    format!("{cleaned}_{:08x}", stable_hash(joined.as_bytes()) as u32)
}

/// The tools offered to Bedrock and the name map.
#[derive(Debug, Default)]
pub struct Offered {
    pub specs: Vec<Tool>,
    pub names: ToolNames,
}

impl Offered {
    /// Adds every tool of `tools`; `origin` names the list in error messages (`tools`).
    pub fn add_all(&mut self, tools: &[Value], origin: &str) -> Result<(), ApiError> {
        for (i, tool) in tools.iter().enumerate() {
            self.add(tool, &format!("{origin}[{i}]"), None)?;
        }
        if self.specs.len() > MAX_TOOLS {
            return Err(ApiError::invalid_param(
                "tools",
                format!("At most {MAX_TOOLS} tools are supported."),
            ));
        }
        Ok(())
    }

    fn add(&mut self, tool: &Value, param: &str, namespace: Option<&str>) -> Result<(), ApiError> {
        let def: ToolDef = serde_json::from_value(tool.clone())
            .map_err(|e| ApiError::invalid_param(param, format!("{param}: invalid tool: {e}")))?;
        match def {
            ToolDef::Function(f) => {
                let target = ToolTarget {
                    kind: CallKind::Function,
                    namespace: namespace.map(str::to_string),
                    name: f.name.clone(),
                };
                let name = bedrock_name(namespace, &f.name);
                let spec = function_spec(
                    &name,
                    f.description.as_deref(),
                    f.parameters.as_ref(),
                    param,
                )?;
                self.insert(spec, target, param)
            }
            ToolDef::Custom(c) => {
                let target = ToolTarget {
                    kind: CallKind::Custom,
                    namespace: namespace.map(str::to_string),
                    name: c.name.clone(),
                };
                let spec = custom_spec(&c, namespace, param)?;
                self.insert(spec, target, param)
            }
            ToolDef::Namespace(ns) => {
                if namespace.is_some() {
                    return Err(ApiError::invalid_param(
                        param,
                        format!("{param}: namespaces cannot be nested."),
                    ));
                }
                for (i, inner) in ns.tools.iter().enumerate() {
                    self.add(inner, &format!("{param}.tools[{i}]"), Some(&ns.name))?;
                }
                Ok(())
            }
            ToolDef::ToolSearch(search) if search.execution.as_deref() == Some("client") => {
                let target = ToolTarget {
                    kind: CallKind::ToolSearch,
                    namespace: None,
                    name: TOOL_SEARCH.into(),
                };
                let parameters = search.parameters.clone().unwrap_or_else(|| {
                    json!({"type": "object", "properties": {
                        "query": {"type": "string"}, "limit": {"type": "number"}}, "required": ["query"]})
                });
                let description = search.description.as_deref().unwrap_or(
                    "Search for more tools by what they do; the tools found become available.",
                );
                let spec = function_spec(TOOL_SEARCH, Some(description), Some(&parameters), param)?;
                self.insert(spec, target, param)
            }
            ToolDef::ToolSearch(_) | ToolDef::Hosted => {
                let kind = tool.get("type").and_then(Value::as_str).unwrap_or("?");
                log::debug!(
                    "responses: dropping hosted tool '{kind}' ({param}): Bedrock cannot run it"
                );
                Ok(())
            }
        }
    }

    fn insert(&mut self, spec: ToolSpec, target: ToolTarget, param: &str) -> Result<(), ApiError> {
        match self.names.by_bedrock_name.get(&spec.name) {
            // The same tool offered twice (e.g. again by a tool search): keep the first.
            Some(existing) if *existing == target => Ok(()),
            Some(_) => Err(ApiError::invalid_param(
                param,
                format!("{param}: tool name '{}' is used twice.", spec.name),
            )),
            None => {
                self.names.by_bedrock_name.insert(spec.name.clone(), target);
                self.specs.push(Tool::ToolSpec(spec));
                Ok(())
            }
        }
    }
}

fn custom_spec(
    tool: &CustomTool,
    namespace: Option<&str>,
    param: &str,
) -> Result<ToolSpec, ApiError> {
    let name = bedrock_name(namespace, &tool.name);
    if !valid_tool_name(&name) {
        return Err(ApiError::invalid_param(
            param,
            format!("{param}: tool name must match ^[a-zA-Z0-9_-]{{1,64}}$."),
        ));
    }
    let mut description = tool
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&tool.name)
        .to_string();
    description.push_str(
        "\n\nThis tool takes free-form text: put the complete raw text in the `input` string \
         (not JSON-encoded any further).",
    );
    let format = tool.format.as_ref();
    if format.and_then(|f| f.get("type")).and_then(Value::as_str) == Some("grammar") {
        let syntax = format
            .and_then(|f| f.get("syntax"))
            .and_then(Value::as_str)
            .unwrap_or("lark");
        let definition = format
            .and_then(|f| f.get("definition"))
            .and_then(Value::as_str)
            .unwrap_or("");
        description.push_str(&format!(
            " The text must follow this {syntax} grammar:\n{definition}"
        ));
    }
    Ok(ToolSpec {
        name,
        description,
        input_schema: InputSchema {
            json: json!({
                "type": "object",
                "properties": {CUSTOM_INPUT: {"type": "string", "description": "The raw text input."}},
                "required": [CUSTOM_INPUT],
            }),
        },
    })
}

/// The raw text of a freeform call from the JSON input Bedrock produced.
pub fn custom_input(input: &Value) -> String {
    match input {
        Value::Object(o) => match o.get(CUSTOM_INPUT) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            // The model ignored the schema: a lone string value is still the input.
            None => match o.values().next() {
                Some(Value::String(s)) if o.len() == 1 => s.clone(),
                _ if o.is_empty() => String::new(),
                _ => input.to_string(),
            },
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converse `toolChoice` for a Responses `tool_choice`; `None` is Bedrock's default (auto).
pub fn tool_choice(choice: Option<&Value>, names: &ToolNames) -> Result<Option<Value>, ApiError> {
    match choice {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => tool_choice_keyword(s),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::invalid_param("tool_choice", "tool_choice needs 'name'.")
                })?;
                let namespace = o.get("namespace").and_then(Value::as_str);
                let bedrock = names.find(namespace, name).ok_or_else(|| {
                    ApiError::invalid_param(
                        "tool_choice",
                        format!("tool_choice names unknown tool '{name}'."),
                    )
                })?;
                Ok(Some(json!({"tool": {"name": bedrock}})))
            }
            Some("allowed_tools") if o.get("mode").and_then(Value::as_str) == Some("required") => {
                Ok(Some(json!({"any": {}})))
            }
            // allowed_tools in auto mode, hosted tool choices: the model chooses.
            _ => Ok(None),
        },
        Some(_) => Err(ApiError::invalid_param(
            "tool_choice",
            "tool_choice must be a string or an object.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn offer(tools: Value) -> Result<Offered, ApiError> {
        let mut offered = Offered::default();
        offered.add_all(tools.as_array().unwrap(), "tools")?;
        Ok(offered)
    }

    fn spec(offered: &Offered, i: usize) -> &ToolSpec {
        match &offered.specs[i] {
            Tool::ToolSpec(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_tool_kind_becomes_a_bedrock_tool_and_maps_back() {
        let offered = offer(json!([
            {"type": "function", "name": "exec_command", "description": "Run", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "custom", "name": "apply_patch", "description": "Patch files",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"*** Begin Patch\""}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "Agents",
             "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]},
            {"type": "tool_search", "execution": "client",
             "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
            {"type": "web_search", "external_web_access": true},
            {"type": "tool_search", "execution": "server"},
        ]))
        .unwrap();
        let names: Vec<&str> = (0..offered.specs.len())
            .map(|i| spec(&offered, i).name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "exec_command",
                "apply_patch",
                "multi_agent_v1__spawn_agent",
                "tool_search"
            ]
        );
        let patch = spec(&offered, 1);
        assert_eq!(patch.input_schema.json["required"], json!(["input"]));
        assert!(patch.description.starts_with("Patch files"));
        assert!(patch
            .description
            .contains("lark grammar:\nstart: \"*** Begin Patch\""));

        let n = &offered.names;
        assert_eq!(n.target("exec_command").kind, CallKind::Function);
        assert_eq!(n.target("apply_patch").kind, CallKind::Custom);
        let spawn = n.target("multi_agent_v1__spawn_agent");
        assert_eq!(
            (spawn.namespace.as_deref(), spawn.name.as_str()),
            (Some("multi_agent_v1"), "spawn_agent")
        );
        assert_eq!(n.target("tool_search").kind, CallKind::ToolSearch);
        assert_eq!(n.target("unknown").name, "unknown");
    }

    #[test]
    fn names_outside_bedrocks_pattern_are_mapped_uniquely_and_back() {
        let long = "x".repeat(70);
        let offered = offer(json!([
            {"type": "function", "name": "my.tool"},
            {"type": "function", "name": "my:tool"},
            {"type": "namespace", "name": "mcp.server", "tools": [{"type": "function", "name": long}]},
        ]))
        .unwrap();
        let a = spec(&offered, 0).name.clone();
        let b = spec(&offered, 1).name.clone();
        let c = spec(&offered, 2).name.clone();
        for n in [&a, &b, &c] {
            assert!(valid_tool_name(n), "{n}");
        }
        assert_ne!(a, b);
        assert_eq!(offered.names.target(&a).name, "my.tool");
        assert_eq!(
            offered.names.target(&c).namespace.as_deref(),
            Some("mcp.server")
        );
        assert_eq!(
            bedrock_name(Some("mcp.server"), &long),
            c,
            "history maps the same way"
        );
    }

    #[test]
    fn clashing_and_malformed_tools_are_refused() {
        let e = offer(json!([{"type": "function", "name": "a__b"},
            {"type": "namespace", "name": "a", "tools": [{"type": "function", "name": "b"}]}]))
        .unwrap_err();
        assert!(e.message.contains("used twice"), "{e}");
        let e =
            offer(json!([{"type": "function", "name": "f"}, {"type": "function"}])).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[1]"));
        let e =
            offer(json!([{"type": "function", "name": "f", "parameters": "nope"}])).unwrap_err();
        assert!(e.message.starts_with("tools[0]:"), "{e}");
        // The same tool twice (e.g. loaded again by a tool search) is fine.
        let twice =
            offer(json!([{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]));
        assert_eq!(twice.unwrap().specs.len(), 1);
    }

    #[test]
    fn custom_input_is_the_raw_string() {
        assert_eq!(
            custom_input(&json!({"input": "*** Begin Patch\n"})),
            "*** Begin Patch\n"
        );
        assert_eq!(custom_input(&json!({"patch": "raw"})), "raw");
        assert_eq!(custom_input(&json!({})), "");
        assert_eq!(custom_input(&json!({"a": 1, "b": 2})), r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn tool_choice_maps_to_converse() {
        let offered = offer(json!([{"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}]))
        .unwrap();
        let n = &offered.names;
        assert_eq!(tool_choice(Some(&json!("auto")), n).unwrap(), None);
        assert_eq!(
            tool_choice(Some(&json!("required")), n).unwrap(),
            Some(json!({"any": {}}))
        );
        assert_eq!(
            tool_choice(Some(&json!({"type": "custom", "name": "apply_patch"})), n).unwrap(),
            Some(json!({"tool": {"name": "apply_patch"}}))
        );
        assert_eq!(
            tool_choice(
                Some(&json!({"type": "function", "name": "f", "namespace": "ns"})),
                n
            )
            .unwrap(),
            Some(json!({"tool": {"name": "ns__f"}}))
        );
        assert_eq!(
            tool_choice(Some(&json!({"type": "web_search"})), n).unwrap(),
            None
        );
        assert!(tool_choice(Some(&json!({"type": "function", "name": "zz"})), n).is_err());
        assert!(tool_choice(Some(&json!("sometimes")), n).is_err());
    }
}
