//! Structured tool output with a chosen text block.
//!
//! `rmcp::Json<T>` renders the text block as compact JSON. A drop-in replacement sometimes must
//! render it as the server it replaces did (pretty JSON, a bare array, a sentence) while keeping
//! the same `structuredContent`. Declare the output schema on the tool with
//! `output_schema = rmcp::handler::server::tool::schema_for_output::<T>()`.

use rmcp::{
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, CallToolResult, ContentBlock},
};
use serde::Serialize;

/// A successful tool result: `value` as `structuredContent`, `text` as the text block.
pub struct Reply<T> {
    pub value: T,
    /// The text block; `None` renders `value` as pretty JSON.
    pub text: Option<String>,
}

impl<T> Reply<T> {
    /// Text block = pretty JSON of the value.
    pub fn pretty(value: T) -> Self {
        Self { value, text: None }
    }

    /// Text block chosen by the caller.
    pub fn with_text(value: T, text: impl Into<String>) -> Self {
        Self {
            value,
            text: Some(text.into()),
        }
    }
}

impl<T: Serialize> IntoCallToolResult for Reply<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let fail = |e: serde_json::Error| {
            rmcp::ErrorData::internal_error(format!("cannot serialise the result: {e}"), None)
        };
        // The text is rendered from the struct itself so its keys keep declaration order.
        let text = match self.text {
            Some(t) => t,
            None => serde_json::to_string_pretty(&self.value).map_err(fail)?,
        };
        let value = serde_json::to_value(&self.value).map_err(fail)?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(value);
        // Absent, not false, on success: what clients of the reference servers see.
        result.is_error = None;
        Ok(result.into())
    }
}

/// Pretty JSON (2-space indent) of any serialisable value, for text blocks.
pub fn pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
