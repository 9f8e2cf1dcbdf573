//! What every front end (the command line's commands, the dashboard, the demo) sets up the same
//! way from settings: the client, the definition, the workspace runs go through.

use crate::batch::{BatchClient, Credential, RetryPolicy};
use crate::config::Settings;
use crate::definition::Definition;
use crate::errors::BadInput;
use crate::rollout::run::Workspace;

/// A client for the configured account; every setting is checked before any request.
pub fn connect(settings: &Settings) -> Result<BatchClient, BadInput> {
    let endpoint = settings.endpoint.as_deref().ok_or_else(|| {
        BadInput::new(
            "no Batch account configured: set url under [accounts.NAME] in config.toml, AZURE_BATCH_ENDPOINT, or --account-url",
        )
    })?;
    crate::batch::client::parse_endpoint(endpoint).map_err(BadInput)?;
    let credential = Credential::from_settings(&settings.auth, &settings.http).map_err(BadInput)?;
    BatchClient::new(endpoint, settings.api_version, credential, &settings.http, RetryPolicy::default())
        .map_err(BadInput)
}

/// The configured definition, loaded and validated; any problem is bad input (exit 2).
pub fn load_definition(settings: &Settings) -> Result<Definition, BadInput> {
    let path = settings.definition.as_ref().ok_or_else(|| {
        BadInput::new("no pool definition file: pass --definition FILE or set `definition` in config.toml")
    })?;
    let definition = Definition::load(path, &settings.vars).map_err(|e| BadInput::new(e.to_string()))?;
    definition.validate(settings.api_version).map_err(|e| BadInput::new(e.to_string()))?;
    Ok(definition)
}

/// The account as runs see it, every setting checked before any request.
pub fn workspace(settings: &Settings) -> Result<Workspace, BadInput> {
    let client = connect(settings)?;
    Ok(workspace_for(settings, client))
}

pub fn workspace_for(settings: &Settings, client: BatchClient) -> Workspace {
    Workspace::new(client, settings.api_version, settings.policy.clone(), settings.paths.data_dir.clone())
}
