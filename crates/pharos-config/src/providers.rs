//! Reads a `type = "provider"` monitor: which official status feed, and what in it.

use crate::model::ProviderSpec;
use crate::reader::{Context, TableReader};
use crate::validate::read_url;
use secrecy::SecretString;
use url::Url;

const GOOGLE_INCIDENTS: &str = "https://www.google.com/appsstatus/dashboard/incidents.json";
const GRAPH: &str = "https://graph.microsoft.com/";
const LOGIN: &str = "https://login.microsoftonline.com/";

pub(crate) fn read_provider(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Option<ProviderSpec> {
    let (kind, span) = table.required_string(cx, "provider")?;
    match kind.as_str() {
        "statuspage" => {
            let url = url_key(cx, table, "url", None);
            let components = names(cx, table, "components");
            Some(ProviderSpec::Statuspage {
                url: url?,
                components,
            })
        }
        "google_workspace" => {
            let url = url_key(cx, table, "url", Some(GOOGLE_INCIDENTS));
            let products = names(cx, table, "products");
            if products.is_empty() {
                cx.problems.report(
                    table.span.clone(),
                    format!("{} needs `products`, e.g. [\"Gmail\"]", table.name),
                );
                return None;
            }
            Some(ProviderSpec::GoogleWorkspace {
                url: url?,
                products,
            })
        }
        "microsoft365" => {
            let tenant_id = text(cx, table, "tenant_id");
            let client_id = text(cx, table, "client_id");
            let client_secret = text(cx, table, "client_secret").map(SecretString::from);
            let service = text(cx, table, "service");
            let graph_url = url_key(cx, table, "graph_url", Some(GRAPH));
            let login_url = url_key(cx, table, "login_url", Some(LOGIN));
            Some(ProviderSpec::Microsoft365 {
                tenant_id: tenant_id?,
                client_id: client_id?,
                client_secret: client_secret?,
                service: service?,
                graph_url: graph_url?,
                login_url: login_url?,
            })
        }
        other => {
            cx.problems.report(
                span,
                format!(
                    "unknown provider `{other}`; known: {}",
                    ProviderSpec::KINDS.join(", ")
                ),
            );
            None
        }
    }
}

fn url_key(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
    default: Option<&str>,
) -> Option<Url> {
    match (table.string(cx, key), default) {
        (Some((text, span)), _) => read_url(cx, &text, span, key),
        (None, Some(default)) => Url::parse(default).ok(),
        (None, None) => {
            cx.problems.report(
                table.span.clone(),
                format!("{} is missing `{key}`", table.name),
            );
            None
        }
    }
}

fn text(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<String> {
    let (text, span) = table.required_string(cx, key)?;
    if text.trim().is_empty() {
        cx.problems
            .report(span, format!("`{key}` in {} must not be empty", table.name));
        return None;
    }
    Some(text)
}

fn names(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Vec<String> {
    table
        .strings(cx, key)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}
