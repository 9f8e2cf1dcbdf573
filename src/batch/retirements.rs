//! What Batch stops supporting, and when: the one table of retiring VM families and images
//! (batch-api.md §10; Azure/Batch#140 and the notices named per row). Preflight warns from it and
//! the dashboard shows it per pool. `GET /supportedimages`' `batchSupportEndOfLife` stays the
//! service's own word on an image; this table also knows VM families and what is announced
//! before the service lists a date.

use jiff::civil::{Date, date};
use serde_json::Value;

/// One announced retirement.
#[derive(Debug, PartialEq)]
pub struct Retirement {
    /// "VM family Dsv2", "Ubuntu 22.04".
    pub what: &'static str,
    /// When support ends; `None` while announced without a date.
    pub ends: Option<Date>,
    /// Where it is announced.
    pub source: &'static str,
    subject: Subject,
}

#[derive(Debug, PartialEq)]
enum Subject {
    /// A VM series, as `series` names it.
    Series(&'static str),
    /// Any image run with this node agent (marketplace or custom).
    Agent(&'static str),
    /// Windows Server marketplace images whose sku starts so (they share one node agent).
    WindowsSku(&'static str),
}

impl Retirement {
    /// "ends 2027-06-30", "ended 2025-04-23" or "retiring (no date announced)", as of `today`.
    pub fn when(&self, today: Date) -> String {
        match self.ends {
            Some(end) if end <= today => format!("ended {end}"),
            Some(end) => format!("ends {end}"),
            None => "retiring (no date announced)".into(),
        }
    }
}

/// Dates: VM families from learn.microsoft.com's retirement pages (D-Ds-Dv2-Dsv2-Ls migration
/// guide; HBv2 and HC in the trusted-launch size notes); NP has no date published.
const TABLE: [Retirement; 16] = [
    vm("VM family D", Some(date(2028, 5, 1)), "D"),
    vm("VM family Ds", Some(date(2028, 5, 1)), "Ds"),
    vm("VM family Dv2", Some(date(2028, 5, 1)), "Dv2"),
    vm("VM family Dsv2", Some(date(2028, 5, 1)), "Dsv2"),
    vm("VM family Ls", Some(date(2028, 5, 1)), "Ls"),
    vm("VM family HBv2", Some(date(2027, 5, 31)), "HBv2"),
    vm("VM family HC", Some(date(2027, 5, 31)), "HC"),
    vm("VM family NP", None, "NP"),
    image("Ubuntu 20.04", date(2025, 4, 23), "Azure/Batch#174", Subject::Agent("batch.node.ubuntu 20.04")),
    image("Ubuntu 22.04", date(2027, 6, 30), "Azure/Batch#200", Subject::Agent("batch.node.ubuntu 22.04")),
    image("Windows Server 2016", date(2027, 1, 12), "Azure/Batch#197", Subject::WindowsSku("2016-")),
    image("CentOS 7", date(2024, 6, 30), "Azure/Batch#169", Subject::Agent("batch.node.centos 7")),
    image("CentOS 8", date(2024, 12, 31), "Azure/Batch#180", Subject::Agent("batch.node.centos 8")),
    image("Debian 10", date(2024, 12, 31), "Azure/Batch#180", Subject::Agent("batch.node.debian 10")),
    image("Ubuntu 16.04", date(2024, 12, 31), "Azure/Batch#180", Subject::Agent("batch.node.ubuntu 16.04")),
    image("Ubuntu 18.04", date(2024, 12, 31), "Azure/Batch#180", Subject::Agent("batch.node.ubuntu 18.04")),
];

const fn vm(what: &'static str, ends: Option<Date>, series: &'static str) -> Retirement {
    Retirement { what, ends, source: "Azure/Batch#140", subject: Subject::Series(series) }
}

const fn image(what: &'static str, ends: Date, source: &'static str, subject: Subject) -> Retirement {
    Retirement { what, ends: Some(ends), source, subject }
}

/// The retirement of the VM family of `vm_size`, if one is announced.
pub fn of_vm_size(vm_size: &str) -> Option<&'static Retirement> {
    let name = series(vm_size)?;
    TABLE.iter().find(|r| r.subject == Subject::Series(name))
}

/// The retirement of the image a pool (or pool-add body) runs: its `virtualMachineConfiguration`'s
/// node agent, or a Windows Server marketplace sku.
pub fn of_image(pool: &Value) -> Option<&'static Retirement> {
    let vm = &pool["virtualMachineConfiguration"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_ascii_lowercase();
    let agent = text(&vm["nodeAgentSKUId"]);
    let image = &vm["imageReference"];
    let windows = text(&image["publisher"]) == "microsoftwindowsserver" && text(&image["offer"]) == "windowsserver";
    TABLE.iter().find(|r| match r.subject {
        Subject::Agent(name) => agent == name,
        Subject::WindowsSku(prefix) => windows && text(&image["sku"]).starts_with(prefix),
        Subject::Series(_) => false,
    })
}

/// Every announced retirement of what a pool (or pool-add body) runs on: its VM family, its image.
pub fn of_pool(pool: &Value) -> Vec<&'static Retirement> {
    let family = pool["vmSize"].as_str().and_then(of_vm_size);
    family.into_iter().chain(of_image(pool)).collect()
}

/// The retiring series a VM size belongs to (`D`, `Ds`, `Dv2`, `Dsv2`, `Ls`, `HBv2`, `HC`, `NP`),
/// from its parts: `Standard_DS11-1_v2` is family `ds`, size 11 (constrained to 1 vCPU), no
/// feature letters, version 2. Any other size (`Dsv3` is `d` + `s` + v3, `DCsv2` is family `dc`,
/// `Lsv2`, `HBv3`) and anything that does not parse is no retiring series.
pub fn series(vm_size: &str) -> Option<&'static str> {
    let lower = vm_size.to_ascii_lowercase();
    let name = lower.strip_prefix("standard_").unwrap_or(&lower);
    let name = name.strip_suffix("_promo").unwrap_or(name);
    let (name, version) = match name.rsplit_once("_v") {
        Some((head, v)) => (head, v.parse::<u32>().ok()?),
        None => (name, 1),
    };
    let family_end = name.find(|c: char| !c.is_ascii_alphabetic())?;
    let (family, rest) = name.split_at(family_end);
    let size_end = rest.find(|c: char| !c.is_ascii_digit() && c != '-').unwrap_or(rest.len());
    let (size, features) = rest.split_at(size_end);
    let digits_first = size.starts_with(|c: char| c.is_ascii_digit());
    if !digits_first || !features.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    match (family, features, version) {
        ("d", "", 1) => Some("D"),
        ("ds", "", 1) => Some("Ds"),
        ("d", "", 2) => Some("Dv2"),
        ("ds", "", 2) => Some("Dsv2"),
        ("l", "s", 1) => Some("Ls"),
        ("hb", _, 2) => Some("HBv2"),
        ("hc", _, 1) => Some("HC"),
        ("np", _, 1) => Some("NP"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vm_sizes_parse_into_their_series() {
        let cases = [
            ("Standard_D1", Some("D")),
            ("standard_d14", Some("D")),
            ("Standard_DS3", Some("Ds")),
            ("Standard_D2_v2", Some("Dv2")),
            ("Standard_D11_v2_Promo", Some("Dv2")),
            ("Standard_DS2_v2", Some("Dsv2")),
            ("standard_ds11-1_v2", Some("Dsv2")),
            ("Standard_L8s", Some("Ls")),
            ("Standard_HB120rs_v2", Some("HBv2")),
            ("Standard_HB120-96rs_v2", Some("HBv2")),
            ("Standard_HC44rs", Some("HC")),
            ("Standard_HC44-16rs", Some("HC")),
            ("Standard_NP10s", Some("NP")),
            // Newer generations and look-alikes are not retiring.
            ("standard_d4s_v3", None),
            ("Standard_D2_v3", None),
            ("Standard_D2s_v5", None),
            ("Standard_D2ds_v4", None),
            ("Standard_D2as_v4", None),
            ("Standard_DC2s_v2", None),
            ("Standard_L8s_v2", None),
            ("Standard_L8s_v3", None),
            ("Standard_HB120rs_v3", None),
            ("Standard_HB60rs", None),
            ("Standard_NC6s_v3", None),
            ("Standard_NC24ads_A100_v4", None),
            ("Standard_A4_v2", None),
            ("standard_e8s_v5", None),
            ("Standard_D", None),
            ("", None),
        ];
        for (size, expected) in cases {
            assert_eq!(series(size), expected, "{size}");
        }
        assert_eq!(of_vm_size("Standard_DS2_v2").unwrap().ends, Some(date(2028, 5, 1)));
        assert_eq!(of_vm_size("Standard_NP10s").unwrap().when(date(2026, 12, 1)), "retiring (no date announced)");
    }

    #[test]
    fn images_retire_by_node_agent_or_windows_sku() {
        let pool = |publisher: &str, offer: &str, sku: &str, agent: &str| {
            json!({"vmSize": "standard_d2s_v5", "virtualMachineConfiguration": {
                "imageReference": {"publisher": publisher, "offer": offer, "sku": sku}, "nodeAgentSKUId": agent}})
        };
        let what = |p: Value| of_image(&p).map(|r| r.what);
        let jammy = pool("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "batch.node.ubuntu 22.04");
        assert_eq!(what(jammy), Some("Ubuntu 22.04"));
        assert_eq!(what(pool("x", "custom", "y", "Batch.Node.Ubuntu 20.04")), Some("Ubuntu 20.04"));
        assert_eq!(what(pool("openlogic", "centos", "7_9", "batch.node.centos 7")), Some("CentOS 7"));
        let w2016 = pool("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", "batch.node.windows amd64");
        assert_eq!(what(w2016), Some("Windows Server 2016"));
        let w2022 =
            pool("microsoftwindowsserver", "windowsserver", "2022-datacenter-smalldisk", "batch.node.windows amd64");
        assert_eq!(what(w2022), None);
        assert_eq!(what(pool("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04")), None);
        let today = date(2026, 12, 1);
        let both = json!({"vmSize": "Standard_DS2_v2", "virtualMachineConfiguration": {"nodeAgentSKUId": "batch.node.ubuntu 20.04"}});
        let said: Vec<String> = of_pool(&both).iter().map(|r| format!("{} {}", r.what, r.when(today))).collect();
        assert_eq!(said, ["VM family Dsv2 ends 2028-05-01", "Ubuntu 20.04 ended 2025-04-23"]);
    }
}
