//! The `/bug` and `/new_feature` modals: building them, and parsing their submissions by hand
//! (twilight-interactions 0.18 has no modal derive).

use twilight_model::application::interaction::modal::{
    ModalInteractionComponent, ModalInteractionData,
};
use twilight_model::channel::message::component::{Component, Label, TextInput, TextInputStyle};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

/// `custom_id` of the bug report modal.
pub const BUG_FORM: &str = "fc:bug";
/// `custom_id` of the feature request modal.
pub const FEATURE_FORM: &str = "fc:feature";
/// `custom_id` of the `/announce` modal.
pub const ANNOUNCE_FORM: &str = "fc:announce";

/// A filled-in `/bug` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BugReport {
    /// Short title.
    pub title: String,
    /// Steps to reproduce.
    pub steps: String,
    /// What the user expected.
    pub expected: String,
    /// What happened instead.
    pub actual: String,
}

/// A filled-in `/new_feature` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRequest {
    /// Short title.
    pub title: String,
    /// What the feature should do.
    pub description: String,
}

/// A filled-in `/announce` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementForm {
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
    /// Where the title links to, if anywhere (an http or https URL).
    pub link: Option<String>,
    /// An image shown under the text (an http or https URL).
    pub image: Option<String>,
}

/// A parsed modal submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalSubmit {
    /// The bug form.
    Bug(BugReport),
    /// The feature form.
    Feature(FeatureRequest),
    /// The announcement form.
    Announce(AnnouncementForm),
}

/// Why a modal submission was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModalError {
    /// A modal this bot did not send.
    #[error("unknown form {0:?}")]
    UnknownForm(String),
    /// A required field is absent or blank.
    #[error("the field {0:?} is required")]
    Missing(&'static str),
    /// A field that must be a web address is not one.
    #[error("the field {0:?} must be an http:// or https:// address")]
    NotALink(&'static str),
    /// A field is longer than the form allows.
    #[error("the field {field:?} is longer than {max} characters")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its limit.
        max: usize,
    },
}

struct Field {
    id: &'static str,
    label: &'static str,
    style: TextInputStyle,
    min: u16,
    max: u16,
    placeholder: &'static str,
}

const TITLE_MAX: u16 = 100;
const TEXT_MAX: u16 = 2000;

const BUG_FIELDS: [Field; 4] = [
    Field {
        id: "title",
        label: "Title",
        style: TextInputStyle::Short,
        min: 3,
        max: TITLE_MAX,
        placeholder: "The app crashes when I log in",
    },
    Field {
        id: "steps",
        label: "Steps to reproduce",
        style: TextInputStyle::Paragraph,
        min: 1,
        max: TEXT_MAX,
        placeholder: "1. Open the app\n2. Tap Log in",
    },
    Field {
        id: "expected",
        label: "What did you expect?",
        style: TextInputStyle::Paragraph,
        min: 1,
        max: TEXT_MAX,
        placeholder: "To see my account",
    },
    Field {
        id: "actual",
        label: "What happened instead?",
        style: TextInputStyle::Paragraph,
        min: 1,
        max: TEXT_MAX,
        placeholder: "A blank screen",
    },
];

const FEATURE_FIELDS: [Field; 2] = [
    Field {
        id: "title",
        label: "Title",
        style: TextInputStyle::Short,
        min: 3,
        max: TITLE_MAX,
        placeholder: "Dark mode",
    },
    Field {
        id: "description",
        label: "Describe the feature",
        style: TextInputStyle::Paragraph,
        min: 1,
        max: TEXT_MAX,
        placeholder: "What should it do, and why would it help you?",
    },
];

const ANNOUNCE_FIELDS: [Field; 4] = [
    Field {
        id: "title",
        label: "Title",
        style: TextInputStyle::Short,
        min: 3,
        max: 256,
        placeholder: "Version 2.0 is out",
    },
    Field {
        id: "body",
        label: "Announcement",
        style: TextInputStyle::Paragraph,
        min: 1,
        max: 4000,
        placeholder: "What is new, and what members should do",
    },
    Field {
        id: "link",
        label: "Link (optional)",
        style: TextInputStyle::Short,
        min: 0,
        max: 512,
        placeholder: "https://example.com/blog/v2",
    },
    Field {
        id: "image",
        label: "Image URL (optional)",
        style: TextInputStyle::Short,
        min: 0,
        max: 512,
        placeholder: "https://example.com/v2.png",
    },
];

/// A field with `min: 0` is optional.
fn modal(custom_id: &str, title: &str, fields: &[Field]) -> InteractionResponse {
    let components = fields
        .iter()
        .map(|f| {
            #[allow(deprecated)] // `TextInput::label` is replaced by the surrounding Label.
            let input = TextInput {
                custom_id: f.id.to_owned(),
                id: None,
                label: None,
                max_length: Some(f.max),
                min_length: (f.min > 0).then_some(f.min),
                placeholder: Some(f.placeholder.to_owned()),
                required: Some(f.min > 0),
                style: f.style,
                value: None,
            };
            Component::Label(Label {
                component: Box::new(Component::TextInput(input)),
                description: None,
                id: None,
                label: f.label.to_owned(),
            })
        })
        .collect();
    InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            custom_id: Some(custom_id.to_owned()),
            title: Some(title.to_owned()),
            components: Some(components),
            ..InteractionResponseData::default()
        }),
    }
}

/// The answer to `/bug`: a modal with title, steps, expected and actual.
pub fn bug_modal() -> InteractionResponse {
    modal(BUG_FORM, "Report a bug", &BUG_FIELDS)
}

/// The answer to `/new_feature`: a modal with title and description.
pub fn feature_modal() -> InteractionResponse {
    modal(FEATURE_FORM, "Suggest a feature", &FEATURE_FIELDS)
}

/// The answer to `/announce` for the staff: a modal with title, text, and optional link and
/// image.
pub fn announce_modal() -> InteractionResponse {
    modal(ANNOUNCE_FORM, "Post an announcement", &ANNOUNCE_FIELDS)
}

/// An optional field that must be a web address when given.
fn link(values: &[(&str, &str)], field: &Field) -> Result<Option<String>, ModalError> {
    let value = values
        .iter()
        .find(|(id, _)| *id == field.id)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty());
    let Some(value) = value else {
        return Ok(None);
    };
    if value.chars().count() > usize::from(field.max) {
        return Err(ModalError::TooLong {
            field: field.id,
            max: usize::from(field.max),
        });
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(value.to_owned())),
        _ => Err(ModalError::NotALink(field.id)),
    }
}

fn collect<'a>(components: &'a [ModalInteractionComponent], out: &mut Vec<(&'a str, &'a str)>) {
    for c in components {
        match c {
            ModalInteractionComponent::Label(l) => collect(std::slice::from_ref(&l.component), out),
            ModalInteractionComponent::ActionRow(r) => collect(&r.components, out),
            ModalInteractionComponent::TextInput(t) => out.push((&t.custom_id, &t.value)),
            _ => {}
        }
    }
}

fn take(values: &[(&str, &str)], field: &Field) -> Result<String, ModalError> {
    let value = values
        .iter()
        .find(|(id, _)| *id == field.id)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or(ModalError::Missing(field.id))?;
    if value.chars().count() > usize::from(field.max) {
        return Err(ModalError::TooLong {
            field: field.id,
            max: usize::from(field.max),
        });
    }
    Ok(value.to_owned())
}

/// Parses a modal submission from its `custom_id` and text inputs, whether they come wrapped
/// in labels (type 18) or action rows (type 1).
///
/// # Errors
/// [`ModalError`] for a form this bot did not send or a blank or oversized field.
pub fn parse(data: &ModalInteractionData) -> Result<ModalSubmit, ModalError> {
    let mut values = Vec::new();
    collect(&data.components, &mut values);
    match data.custom_id.as_str() {
        BUG_FORM => {
            let [title, steps, expected, actual] = &BUG_FIELDS;
            Ok(ModalSubmit::Bug(BugReport {
                title: take(&values, title)?,
                steps: take(&values, steps)?,
                expected: take(&values, expected)?,
                actual: take(&values, actual)?,
            }))
        }
        FEATURE_FORM => {
            let [title, description] = &FEATURE_FIELDS;
            Ok(ModalSubmit::Feature(FeatureRequest {
                title: take(&values, title)?,
                description: take(&values, description)?,
            }))
        }
        ANNOUNCE_FORM => {
            let [title, body, link_field, image] = &ANNOUNCE_FIELDS;
            Ok(ModalSubmit::Announce(AnnouncementForm {
                title: take(&values, title)?,
                body: take(&values, body)?,
                link: link(&values, link_field)?,
                image: link(&values, image)?,
            }))
        }
        other => Err(ModalError::UnknownForm(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(json: &str) -> ModalInteractionData {
        serde_json::from_str(json).expect("modal fixture")
    }

    #[test]
    fn bug_modal_wire_shape() {
        let v = serde_json::to_value(bug_modal()).unwrap();
        assert_eq!(v["type"], 9);
        assert_eq!(v["data"]["custom_id"], BUG_FORM);
        let comps = v["data"]["components"].as_array().unwrap();
        assert_eq!(comps.len(), 4);
        assert!(
            comps
                .iter()
                .all(|c| c["type"] == 18 && c["component"]["type"] == 4)
        );
        let ids: Vec<_> = comps
            .iter()
            .map(|c| c["component"]["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["title", "steps", "expected", "actual"]);
        assert_eq!(comps[0]["component"]["style"], 1);
        assert_eq!(comps[1]["component"]["style"], 2);
        let f = serde_json::to_value(feature_modal()).unwrap();
        assert_eq!(f["data"]["components"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn parses_labels_and_action_rows() {
        let data = submit(
            r#"{"custom_id":"fc:bug","components":[
            {"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"title","value":" App crashes "}},
            {"type":18,"id":3,"component":{"type":4,"id":4,"custom_id":"steps","value":"open it"}},
            {"type":1,"id":5,"components":[{"type":4,"id":6,"custom_id":"expected","value":"works"}]},
            {"type":18,"id":7,"component":{"type":4,"id":8,"custom_id":"actual","value":"crash"}}]}"#,
        );
        assert_eq!(
            parse(&data).unwrap(),
            ModalSubmit::Bug(BugReport {
                title: "App crashes".into(),
                steps: "open it".into(),
                expected: "works".into(),
                actual: "crash".into(),
            })
        );
        let feature = submit(
            r#"{"custom_id":"fc:feature","components":[
            {"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"description","value":"dark"}},
            {"type":18,"id":3,"component":{"type":4,"id":4,"custom_id":"title","value":"Dark mode"}}]}"#,
        );
        assert_eq!(
            parse(&feature).unwrap(),
            ModalSubmit::Feature(FeatureRequest {
                title: "Dark mode".into(),
                description: "dark".into()
            })
        );
    }

    #[test]
    fn refuses_blank_long_and_unknown() {
        let blank = submit(
            r#"{"custom_id":"fc:feature","components":[
            {"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"title","value":"   "}},
            {"type":18,"id":3,"component":{"type":4,"id":4,"custom_id":"description","value":"x"}}]}"#,
        );
        assert_eq!(parse(&blank), Err(ModalError::Missing("title")));
        let long = format!(
            r#"{{"custom_id":"fc:feature","components":[
            {{"type":18,"id":1,"component":{{"type":4,"id":2,"custom_id":"title","value":"{}"}}}},
            {{"type":18,"id":3,"component":{{"type":4,"id":4,"custom_id":"description","value":"x"}}}}]}}"#,
            "t".repeat(101)
        );
        assert_eq!(
            parse(&submit(&long)),
            Err(ModalError::TooLong {
                field: "title",
                max: 100
            })
        );
        let other = submit(r#"{"custom_id":"someone-else","components":[]}"#);
        assert_eq!(
            parse(&other),
            Err(ModalError::UnknownForm("someone-else".into()))
        );
    }
}
