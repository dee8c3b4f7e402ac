//! Docker's `--format` for listings (`table ...` with a header row and tab-aligned
//! columns, `json`, any template) and `-f` for `inspect`, over [`crate::template`].

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value;

use crate::Failure;
use crate::template::{Kind, Schema, Template, Val};

/// Go types of Docker's container inspect object where JSON cannot tell (maps, and
/// what a `null` or a missing field is: `<nil>`, `[]`, `map[]`).
pub const CONTAINER_SCHEMA: Schema<'static> = &[
    ("Args", Kind::Slice),
    ("ExecIDs", Kind::Slice),
    ("Mounts", Kind::Slice),
    ("State.Health", Kind::Ptr),
    ("State.Health.Log", Kind::Slice),
    ("Config.Labels", Kind::StrMap),
    ("Config.Env", Kind::Slice),
    ("Config.Cmd", Kind::Slice),
    ("Config.Entrypoint", Kind::Slice),
    ("Config.Shell", Kind::Slice),
    ("Config.OnBuild", Kind::Slice),
    ("Config.ExposedPorts", Kind::Map),
    ("Config.Volumes", Kind::Map),
    ("Config.Healthcheck", Kind::Ptr),
    ("Config.Healthcheck.Test", Kind::Slice),
    ("HostConfig.Binds", Kind::Slice),
    ("HostConfig.PortBindings", Kind::Map),
    ("HostConfig.PortBindings.*", Kind::Slice),
    ("HostConfig.Dns", Kind::Slice),
    ("HostConfig.DnsOptions", Kind::Slice),
    ("HostConfig.DnsSearch", Kind::Slice),
    ("HostConfig.ExtraHosts", Kind::Slice),
    ("HostConfig.CapAdd", Kind::Slice),
    ("HostConfig.CapDrop", Kind::Slice),
    ("HostConfig.SecurityOpt", Kind::Slice),
    ("HostConfig.Ulimits", Kind::Slice),
    ("HostConfig.Devices", Kind::Slice),
    ("HostConfig.DeviceCgroupRules", Kind::Slice),
    ("HostConfig.GroupAdd", Kind::Slice),
    ("HostConfig.VolumesFrom", Kind::Slice),
    ("HostConfig.Links", Kind::Slice),
    ("HostConfig.Mounts", Kind::Slice),
    ("HostConfig.Tmpfs", Kind::StrMap),
    ("HostConfig.Sysctls", Kind::StrMap),
    ("HostConfig.StorageOpt", Kind::StrMap),
    ("HostConfig.LogConfig.Config", Kind::StrMap),
    ("HostConfig.PidsLimit", Kind::Ptr),
    ("HostConfig.OomKillDisable", Kind::Ptr),
    ("GraphDriver.Data", Kind::StrMap),
    ("NetworkSettings.Ports", Kind::Map),
    ("NetworkSettings.Ports.*", Kind::Slice),
    ("NetworkSettings.Networks", Kind::Map),
    ("NetworkSettings.Networks.*.Aliases", Kind::Slice),
    ("NetworkSettings.Networks.*.Links", Kind::Slice),
    ("NetworkSettings.Networks.*.DNSNames", Kind::Slice),
    ("NetworkSettings.Networks.*.DriverOpts", Kind::StrMap),
    ("NetworkSettings.Networks.*.IPAMConfig", Kind::Ptr),
];

/// Docker's image inspect object.
pub const IMAGE_SCHEMA: Schema<'static> = &[
    ("RepoTags", Kind::Slice),
    ("RepoDigests", Kind::Slice),
    ("Config", Kind::Ptr),
    ("Config.Labels", Kind::StrMap),
    ("Config.Env", Kind::Slice),
    ("Config.Cmd", Kind::Slice),
    ("Config.Entrypoint", Kind::Slice),
    ("Config.Shell", Kind::Slice),
    ("Config.OnBuild", Kind::Slice),
    ("Config.ExposedPorts", Kind::Map),
    ("Config.Volumes", Kind::Map),
    ("Config.Healthcheck", Kind::Ptr),
    ("RootFS.Layers", Kind::Slice),
    ("GraphDriver.Data", Kind::StrMap),
];

/// Docker's network inspect object.
pub const NETWORK_SCHEMA: Schema<'static> = &[
    ("Labels", Kind::StrMap),
    ("Options", Kind::StrMap),
    ("Containers", Kind::Map),
    ("IPAM.Config", Kind::Slice),
    ("IPAM.Options", Kind::StrMap),
];

/// Docker's volume inspect object.
pub const VOLUME_SCHEMA: Schema<'static> = &[("Labels", Kind::StrMap), ("Options", Kind::StrMap)];

fn template_error(e: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(125, format!("template parsing error: {e}")).into()
}

/// `inspect -f`: the template over each object (typed by its schema), one line each;
/// nothing is printed if the template fails on any of them (as Docker's).
pub fn inspect_each(template: &str, values: &[(Value, Schema<'_>)]) -> Result<()> {
    let t = Template::parse(template).map_err(template_error)?;
    let mut out = String::new();
    for (v, schema) in values {
        out.push_str(&t.execute(&Val::from_json(v, schema)).map_err(template_error)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// What a listing command formats: its default table and the header of each field.
pub struct Listing<'a> {
    /// The table `--format table` (or no `--format`) prints.
    pub default_table: &'a str,
    /// Field name -> column header (`Names` -> `NAMES`).
    pub headers: &'a [(&'a str, &'a str)],
}

/// A row's value for templates: a struct of fields.
pub fn row(fields: Vec<(&str, Val)>) -> Val {
    Val::Struct(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A text field; control characters (from images, containers) shown as escapes.
pub fn text(s: impl AsRef<str>) -> Val {
    Val::Str(crate::format::printable(s.as_ref()))
}

/// Labels as Docker's `.Labels` (`k=v,k2=v2`) and `.Label "k"`.
pub fn labels(labels: &BTreeMap<String, String>) -> (Val, Val) {
    let joined = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    (text(joined), Val::Lookup(labels.iter().map(|(k, v)| (k.clone(), crate::format::printable(v))).collect()))
}

/// The template a `--format` stands for, and whether it is a table.
fn resolve<'f>(format: &'f str, listing: &'f Listing<'_>) -> (bool, String) {
    let format = if format.is_empty() || format == "table" { listing.default_table } else { format };
    let (table, body) = if format == "json" {
        (false, "{{json .}}")
    } else if let Some(rest) = format.strip_prefix("table") {
        (true, rest)
    } else {
        (false, format)
    };
    (table, body.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n"))
}

/// Whether the format uses a field (`ps` computes sizes only when `.Size` is asked for).
pub fn uses(format: &str, listing: &Listing<'_>, field: &str) -> bool {
    resolve(format, listing).1.contains(&format!(".{field}"))
}

/// Renders `rows` in `format`: a table (header row, then the rows tab-aligned as
/// Docker's tabwriter), one JSON object per line (`json`) or the template per row.
pub fn render(format: &str, listing: &Listing<'_>, rows: &[Val]) -> Result<String> {
    let (table, body) = resolve(format, listing);
    let t = Template::parse(&body).map_err(template_error)?;
    let mut out = String::new();
    for r in rows {
        out.push_str(&t.execute(r).map_err(template_error)?);
        out.push('\n');
    }
    if !table {
        return Ok(out);
    }
    let headers = Val::Map {
        entries: listing.headers.iter().map(|(k, v)| (k.to_string(), Val::Str(v.to_string()))).collect(),
        strings: true,
    };
    let mut all = t.execute_header(&headers);
    all.push('\n');
    all.push_str(&out);
    Ok(tabwriter(&all, 10, 3))
}

/// Prints [`render`]'s output.
pub fn print(format: &str, listing: &Listing<'_>, rows: &[Val]) -> Result<()> {
    print!("{}", render(format, listing, rows)?);
    Ok(())
}

/// Go's `text/tabwriter` (padding with spaces, no flags): tab-terminated cells of
/// consecutive lines form a column as wide as its widest cell plus `padding` (at least
/// `min_width`); the last cell of a line is not part of a column.
pub fn tabwriter(text: &str, min_width: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split_terminator('\n').map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|l| vec![0; l.len().saturating_sub(1)]).collect();
    fn block(
        lines: &[Vec<&str>],
        widths: &mut [Vec<usize>],
        from: usize,
        to: usize,
        column: usize,
        min: usize,
        pad: usize,
    ) {
        let mut this = from;
        while this < to {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            let start = this;
            let mut width = min;
            while this < to && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].chars().count() + pad);
                this += 1;
            }
            for w in &mut widths[start..this] {
                w[column] = width;
            }
            block(lines, widths, start, this, column + 1, min, pad);
        }
    }
    block(&lines, &mut widths, 0, lines.len(), 0, min_width, padding);
    let mut out = String::with_capacity(text.len() * 2);
    for (cells, widths) in lines.iter().zip(&widths) {
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(i) {
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count())));
            }
        }
        out.push('\n');
    }
    out
}

/// Go's `time.Time.String()` of a UTC RFC 3339 time: `2024-01-02 15:04:05 +0000 UTC`.
pub fn created_at(rfc3339: Option<&str>) -> String {
    let Some(t) = rfc3339 else { return String::new() };
    let secs = t.split('.').next().unwrap_or(t).trim_end_matches('Z');
    match humantime::parse_rfc3339_weak(secs) {
        Ok(time) => {
            let text = humantime::format_rfc3339_seconds(time).to_string();
            format!("{} +0000 UTC", text.trim_end_matches('Z').replacen('T', " ", 1))
        }
        Err(_) => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_like_go() {
        // Go: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
        assert_eq!(
            tabwriter("NAMES\tSTATUS\nweb\tUp 2 seconds\nlong-container-name\tExited (0)\n", 10, 3),
            "NAMES                 STATUS\nweb                   Up 2 seconds\nlong-container-name   Exited (0)\n"
        );
        assert_eq!(tabwriter("a\tb\tc\nd\n", 10, 3), "a         b         c\nd\n");
        // A line without the column ends its block.
        assert_eq!(tabwriter("aaaaaaaaaaaa\tx\nb\ny\tz\n", 10, 3), "aaaaaaaaaaaa   x\nb\ny         z\n");
    }

    #[test]
    fn tables_json_and_templates() {
        let listing = Listing {
            default_table: "table {{.Name}}\\t{{.Driver}}",
            headers: &[("Name", "VOLUME NAME"), ("Driver", "DRIVER")],
        };
        let rows = vec![row(vec![("Name", text("data")), ("Driver", text("local"))])];
        assert_eq!(render("", &listing, &rows).unwrap(), "VOLUME NAME   DRIVER\ndata          local\n");
        assert_eq!(render("json", &listing, &rows).unwrap(), "{\"Driver\":\"local\",\"Name\":\"data\"}\n");
        assert_eq!(render("{{.Name}}:{{.Driver}}", &listing, &rows).unwrap(), "data:local\n");
        assert_eq!(render("table {{.Driver | upper}}", &listing, &rows).unwrap(), "DRIVER\nLOCAL\n");
        assert!(render("{{.Nope}}", &listing, &rows).is_err());
    }

    #[test]
    fn created_at_as_go() {
        assert_eq!(created_at(Some("2024-01-02T15:04:05.123456789Z")), "2024-01-02 15:04:05 +0000 UTC");
    }
}
