//! Bedrock control-plane answers we read: ListFoundationModels and ListInferenceProfiles
//! (bedrock.REGION.amazonaws.com). Every field is optional so a new or missing one never
//! breaks the model list.

use serde::Deserialize;

pub const LIST_FOUNDATION_MODELS: &str = "/foundation-models";
pub const LIST_INFERENCE_PROFILES: &str = "/inference-profiles";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModels {
    #[serde(default)]
    pub model_summaries: Vec<FoundationModel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModel {
    #[serde(default)]
    pub model_id: String,
    #[serde(default)]
    pub provider_name: String,
    #[serde(default)]
    pub output_modalities: Vec<String>,
    #[serde(default)]
    pub inference_types_supported: Vec<String>,
    #[serde(default)]
    pub model_lifecycle: Option<Lifecycle>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Lifecycle {
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfiles {
    #[serde(default)]
    pub inference_profile_summaries: Vec<InferenceProfile>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfile {
    #[serde(default)]
    pub inference_profile_id: String,
    #[serde(default)]
    pub inference_profile_arn: String,
    #[serde(default)]
    pub status: String,
    /// `SYSTEM_DEFINED` or `APPLICATION`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub models: Vec<ProfileModel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileModel {
    #[serde(default)]
    pub model_arn: String,
}

impl ProfileModel {
    /// `arn:aws:bedrock:REGION::foundation-model/ID` → `ID`.
    pub fn model_id(&self) -> &str {
        self.model_arn
            .rsplit_once("foundation-model/")
            .map(|(_, id)| id)
            .unwrap_or("")
    }
}

impl FoundationModel {
    /// Active (not legacy), answers with text.
    pub fn is_active_text_model(&self) -> bool {
        let active = self
            .model_lifecycle
            .as_ref()
            .is_none_or(|l| l.status.is_empty() || l.status == "ACTIVE");
        active && self.output_modalities.iter().any(|m| m == "TEXT")
    }

    pub fn supports(&self, inference_type: &str) -> bool {
        self.inference_types_supported
            .iter()
            .any(|t| t == inference_type)
    }
}
