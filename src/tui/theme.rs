//! Colours by role. The defaults use the terminal's own palette (no fixed RGB), so they read on
//! dark and light backgrounds; `[theme]` in config.toml overrides any role.

use ratatui::style::Color;
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub accent: Color,
    pub ok: Color,
    pub warn: Color,
    pub bad: Color,
    pub dim: Color,
    pub selected: Color,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            accent: Color::Cyan,
            ok: Color::Green,
            warn: Color::Yellow,
            bad: Color::Red,
            dim: Color::DarkGray,
            selected: Color::Blue,
        }
    }
}

impl Theme {
    /// Defaults with `overrides` (role → colour name or #rrggbb) applied.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut theme = Theme::default();
        for (role, value) in overrides {
            let color = Color::from_str(value)
                .map_err(|_| format!("[theme] {role}: '{value}' is not a colour (e.g. cyan, lightred, #ffaa00)"))?;
            let slot = match role.as_str() {
                "accent" => &mut theme.accent,
                "ok" => &mut theme.ok,
                "warn" => &mut theme.warn,
                "bad" => &mut theme.bad,
                "dim" => &mut theme.dim,
                "selected" => &mut theme.selected,
                other => {
                    return Err(format!(
                        "[theme] '{other}' is not a role; roles: accent, ok, warn, bad, dim, selected"
                    ));
                }
            };
            *slot = color;
        }
        Ok(theme)
    }
}
