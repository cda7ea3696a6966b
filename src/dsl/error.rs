//! DSL errors with Cloudify's numeric parser error codes (cloudify-api.md §2.11).

/// A blueprint problem: Cloudify's `err_code` and a message naming the
/// file, the element and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DslError {
    pub code: i32,
    pub message: String,
}

impl DslError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        DslError {
            code,
            message: message.into(),
        }
    }

    /// Schema and format problems (unknown key, wrong type, missing key).
    pub fn format(message: impl Into<String>) -> Self {
        DslError::new(1, message)
    }
}

pub type DslResult<T> = Result<T, DslError>;

/// Codes used by more than one module.
pub mod code {
    pub const YAML: i32 = -1;
    pub const FORMAT: i32 = 1;
    pub const DUPLICATE_IMPORT: i32 = 2;
    pub const NON_MERGEABLE: i32 = 3;
    pub const MERGE_CONFLICT: i32 = 4;
    pub const UNKNOWN_NODE_TYPE: i32 = 7;
    pub const NODE_OPERATION: i32 = 10;
    pub const IMPORT_NOT_FOUND: i32 = 13;
    pub const PLUGIN_EXECUTOR: i32 = 18;
    pub const RELATIONSHIP_OPERATION: i32 = 19;
    pub const WORKFLOW_MAPPING: i32 = 21;
    pub const SELF_RELATIONSHIP: i32 = 23;
    pub const HOST_AGENT_WITHOUT_HOST: i32 = 24;
    pub const UNKNOWN_TARGET: i32 = 25;
    pub const UNKNOWN_RELATIONSHIP: i32 = 26;
    pub const MISSING_VERSION: i32 = 27;
    pub const OPERATION_EXECUTOR: i32 = 28;
    pub const UNSUPPORTED_VERSION: i32 = 29;
    pub const UNKNOWN_MEMBER: i32 = 40;
    pub const UNKNOWN_POLICY_TYPE: i32 = 41;
    pub const UNKNOWN_TRIGGER: i32 = 42;
    pub const PLUGIN_SOURCE: i32 = 50;
    pub const SCRIPT_PATH_GIVEN: i32 = 60;
    pub const NO_SCRIPT_PLUGIN: i32 = 61;
    pub const AMBIGUOUS_MAPPING: i32 = 91;
    pub const CYCLE: i32 = 100;
    pub const VERSION_GATE: i32 = 102;
    pub const UNKNOWN_TYPE: i32 = 103;
    pub const PRIMITIVE_REDEFINED: i32 = 104;
    pub const TYPE_MISMATCH: i32 = 105;
    pub const NOT_IN_SCHEMA: i32 = 106;
    pub const MANDATORY_MISSING: i32 = 107;
    pub const TWO_CONTAINERS: i32 = 112;
    /// Deployment creation: a required input was not given.
    pub const MISSING_INPUT: i32 = 200;
    /// Deployment creation: an input the blueprint does not declare.
    pub const UNKNOWN_INPUT: i32 = 201;
    /// A function refers to something that is not there.
    pub const FUNCTION: i32 = 202;
}
