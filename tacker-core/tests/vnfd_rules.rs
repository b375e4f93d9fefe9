//! The VNFD reader on a small package: what it builds, and each rule it enforces, with
//! the file, line and column of the offending text.

use std::collections::BTreeSet;
use std::io::{Cursor, Write};

use tacker_core::csar::{Csar, CsarOptions};
use tacker_core::vnfd::{VnfdError, VnfdReport, read_vnfd};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

const TOP: &str = include_str!("vnfd/top.yaml");
const TYPES: &str = include_str!("vnfd/types.yaml");
const FLAVOUR: &str = include_str!("vnfd/df_simple.yaml");
const META: &str = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: test\nEntry-Definitions: Definitions/top.yaml\n";

fn package(top: &str, flavour: &str) -> Csar {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for (name, content) in [
        ("TOSCA-Metadata/TOSCA.meta", META),
        ("Definitions/top.yaml", top),
        ("Definitions/types.yaml", TYPES),
        ("Definitions/df_simple.yaml", flavour),
        ("Scripts/mgmt.py", "print('hook')\n"),
    ] {
        writer.start_file(name, options).expect("start");
        writer.write_all(content.as_bytes()).expect("write");
    }
    let bytes = writer.finish().expect("finish").into_inner();
    Csar::from_zip_bytes(bytes, &CsarOptions::default()).expect("open")
}

fn read(top: &str, flavour: &str) -> Result<VnfdReport, VnfdError> {
    read_vnfd(&package(top, flavour), &BTreeSet::new())
}

fn flavour_with(from: &str, to: &str) -> String {
    assert!(FLAVOUR.contains(from), "the base flavour contains {from:?}");
    FLAVOUR.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> u64 {
    let index = text.find(needle).expect("needle");
    u64::try_from(text[..index].matches('\n').count() + 1).expect("line")
}

fn refused(top: &str, flavour: &str, rule: &str) -> VnfdError {
    let error = read(top, flavour).expect_err("refused");
    assert!(
        error.to_string().contains(rule),
        "expected '{rule}' in: {error}"
    );
    error
}

#[test]
fn the_small_package_reads_into_a_complete_vnfd() {
    let report = read(TOP, FLAVOUR).expect("valid");
    let vnfd = &report.vnfd;
    assert_eq!(vnfd.descriptor_id, "0b6b8a2e-0000-4000-8000-000000000001");
    assert_eq!(vnfd.provider, "Example");
    assert_eq!(vnfd.vnfm_info, vec!["Tacker".to_string()]);
    let flavour = vnfd.flavour("simple").expect("flavour");
    assert_eq!(flavour.description.as_deref(), Some("Simple flavour"));
    let vdu = flavour.vdu("VDU1").expect("VDU1");
    assert_eq!(
        (vdu.min_instances, vdu.max_instances, vdu.initial_delta),
        (1, 3, 1)
    );
    assert_eq!(vdu.name, "vdu1");
    let compute = vdu.virtual_compute.as_ref().expect("compute");
    assert_eq!(
        (compute.num_virtual_cpu, compute.virtual_mem_size),
        (2, 512_000_000)
    );
    assert_eq!(vdu.sw_image.as_ref().map(|i| i.size), Some(1_000_000_000));
    assert_eq!(vdu.virtual_storages, vec!["Storage1".to_string()]);
    assert_eq!(flavour.virtual_storages[0].size_of_storage, 2 << 30);
    let cps = flavour.cps_of("VDU1");
    assert_eq!(
        cps.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["CP1", "CP2"]
    );
    assert_eq!(cps[1].virtual_link.as_deref(), Some("VL1"));
    assert_eq!(flavour.ext_cps[0].vdu_cp, "CP1");
    let aspect = flavour.scaling_aspect("worker").expect("aspect");
    assert_eq!(aspect.max_scale_level, 2);
    assert_eq!(aspect.instances_added("VDU1", 2), 2);
    assert_eq!(
        flavour.default_instantiation_level.as_deref(),
        Some("small")
    );
    assert_eq!(flavour.vdu_instances_at_level(vdu, Some("large")), 3);
    let hook = flavour.lcm_operation("instantiate_end").expect("hook");
    assert_eq!(hook.implementation.as_deref(), Some("mgmt_driver"));
    assert_eq!(hook.artifact_file.as_deref(), Some("Scripts/mgmt.py"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn a_missing_vnf_node_is_refused() {
    let top = TOP.replace("type: example.VNF", "type: tosca.nodes.nfv.VduCp");
    let error = refused(
        &top,
        FLAVOUR,
        "no node template derived from tosca.nodes.nfv.VNF",
    );
    assert_eq!(error.file, "Definitions/top.yaml");
}

#[test]
fn a_package_without_flavours_is_refused() {
    let flavour = flavour_with(
        "  substitution_mappings:\n    node_type: example.VNF\n    properties:\n      flavour_id: simple\n",
        "  substitution_mappings:\n    node_type: example.VNF\n",
    );
    refused(TOP, &flavour, "no deployment flavour");
}

/// One template holding the VNF node (with a flavour_id property) and a VDU: read as
/// the single flavour it describes, unless the template substitutes the VNF node
/// without a flavour_id of its own, which declares no flavour at all.
fn single_template(mappings: &str) -> String {
    const VDU: &str = "    VDU1:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: vdu1
        vdu_profile:
          min_number_of_instances: 1
          max_number_of_instances: 1
      capabilities:
        virtual_compute:
          properties:
            virtual_memory:
              virtual_mem_size: 512 MB
            virtual_cpu:
              num_virtual_cpu: 1
";
    assert!(
        TOP.contains("  - df_simple.yaml\n") && TOP.contains("        software_version: '1.0'\n")
    );
    TOP.replacen("  - df_simple.yaml\n", "", 1)
        .replacen(
            "topology_template:\n  node_templates:\n",
            &format!("topology_template:\n{mappings}  node_templates:\n{VDU}"),
            1,
        )
        .replacen(
            "        software_version: '1.0'\n",
            "        software_version: '1.0'\n        flavour_id: simple\n",
            1,
        )
}

#[test]
fn a_single_template_vnfd_is_its_own_flavour() {
    let report = read(&single_template(""), FLAVOUR).expect("valid");
    assert_eq!(report.vnfd.flavours.len(), 1);
    assert_eq!(report.vnfd.flavours[0].id, "simple");
}

#[test]
fn a_top_template_mapping_the_vnf_without_a_flavour_id_is_no_flavour() {
    let top = single_template("  substitution_mappings:\n    node_type: example.VNF\n");
    refused(&top, FLAVOUR, "no deployment flavour");
}

#[test]
fn an_undefined_default_instantiation_level_is_refused_at_its_line() {
    let flavour = flavour_with("default_level: small", "default_level: medium");
    let error = refused(
        TOP,
        &flavour,
        "default_level 'medium' is not one of the defined instantiation levels",
    );
    assert_eq!(error.file, "Definitions/df_simple.yaml");
    assert_eq!(error.line, line_of(&flavour, "default_level: medium"));
    assert_eq!(error.column, 26);
}

#[test]
fn a_vdu_level_that_no_instantiation_level_defines_is_refused() {
    let flavour = flavour_with(
        "            large:\n              number_of_instances: 3",
        "            huge:\n              number_of_instances: 3",
    );
    refused(
        TOP,
        &flavour,
        "uses instantiation level(s) huge not defined",
    );
}

#[test]
fn a_policy_target_that_does_not_exist_is_refused() {
    let flavour = flavour_with(
        "        targets: [ VDU1 ]\n    - instantiation_levels",
        "        targets: [ VDU9 ]\n    - instantiation_levels",
    );
    let error = refused(
        TOP,
        &flavour,
        "targets 'VDU9', which is not a node template",
    );
    assert_eq!(error.line, line_of(&flavour, "targets: [ VDU9 ]"));
}

#[test]
fn min_above_max_instances_is_refused() {
    let flavour = flavour_with("min_number_of_instances: 1", "min_number_of_instances: 5");
    let error = refused(
        TOP,
        &flavour,
        "min_number_of_instances 5 > max_number_of_instances 3",
    );
    assert_eq!(error.line, line_of(&flavour, "min_number_of_instances: 5"));
}

#[test]
fn a_scaling_delta_for_something_that_is_not_a_vdu_is_refused() {
    let flavour = flavour_with(
        "              number_of_instances: 1\n        targets: [ VDU1 ]",
        "              number_of_instances: 1\n        targets: [ CP1 ]",
    );
    refused(TOP, &flavour, "targets 'CP1', which is not a VDU");
}

#[test]
fn a_scaling_delta_for_an_unknown_aspect_is_refused() {
    let flavour = flavour_with("aspect: worker", "aspect: database");
    refused(
        TOP,
        &flavour,
        "names scaling aspect 'database', which is not defined",
    );
}

#[test]
fn a_dangling_requirement_is_refused() {
    let flavour = flavour_with("- virtual_link: VL1", "- virtual_link: VL7");
    let error = refused(
        TOP,
        &flavour,
        "requirement 'virtual_link' of 'CP2' names 'VL7'",
    );
    assert_eq!(error.line, line_of(&flavour, "- virtual_link: VL7"));
}

#[test]
fn duplicate_node_names_are_refused() {
    let flavour = flavour_with("    VL1:\n", "    CP1:\n");
    let error = read(TOP, &flavour).expect_err("duplicate");
    assert_eq!(error.file, "Definitions/df_simple.yaml");
    assert!(error.message.contains("invalid YAML"), "{error}");
    assert!(error.line > 0, "{error}");
}

#[test]
fn a_property_outside_its_valid_values_is_refused() {
    let top = TOP.replace("provider: Example", "provider: Someone Else");
    let error = refused(
        &top,
        FLAVOUR,
        "property 'provider' is 'Someone Else', which is not one of its valid_values",
    );
    assert_eq!(error.line, line_of(&top, "provider: Someone Else"));
}

#[test]
fn a_sw_image_artifact_without_sw_image_data_is_refused() {
    let flavour = flavour_with(
        "      requirements:\n        - virtual_storage: Storage1",
        "      artifacts:\n        sw_image:\n          type: tosca.artifacts.nfv.SwImage\n          file: ../Files/image.qcow2\n      requirements:\n        - virtual_storage: Storage1",
    )
    .replacen("        sw_image_data:\n          name: image\n          version: '1.0'\n          container_format: bare\n          disk_format: qcow2\n          min_disk: 1 GB\n          min_ram: 256 MB\n          size: 1 GB\n", "", 1);
    refused(
        TOP,
        &flavour,
        "has the SwImage artifact 'sw_image' but no sw_image_data property",
    );
}

#[test]
fn yes_and_no_stay_strings() {
    let top = TOP.replace("software_version: '1.0'", "software_version: yes");
    let report = read(&top, FLAVOUR).expect("valid");
    assert_eq!(report.vnfd.software_version, "yes");
}

#[test]
fn an_unknown_nfv_type_is_refused() {
    let flavour = flavour_with(
        "type: tosca.nodes.nfv.VnfVirtualLink",
        "type: tosca.nodes.nfv.VnfVirtualLnk",
    );
    refused(
        TOP,
        &flavour,
        "type 'tosca.nodes.nfv.VnfVirtualLnk' is not defined",
    );
}

#[test]
fn an_alias_bomb_vnfd_is_refused_quickly() {
    let mut bomb = String::from(
        "tosca_definitions_version: tosca_simple_yaml_1_3\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for level in 1..9 {
        let prev = format!("*a{}", level - 1);
        let items = [prev.as_str(); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    // 10^9 nodes if expanded: the parser's alias budget refuses it instead.
    let error = read(&bomb, FLAVOUR).expect_err("alias bomb");
    assert_eq!(error.file, "Definitions/top.yaml");
    assert!(error.message.contains("invalid YAML"), "{error}");
    assert!(
        error.message.to_lowercase().contains("alias")
            || error.message.to_lowercase().contains("budget"),
        "{error}"
    );
}

#[test]
fn a_non_utf8_vnfd_is_refused_with_its_file() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for (name, content) in [
        ("TOSCA-Metadata/TOSCA.meta", META.as_bytes()),
        ("Definitions/top.yaml", b"description: caf\xe9\n".as_slice()),
    ] {
        writer.start_file(name, options).expect("start");
        writer.write_all(content).expect("write");
    }
    let csar = Csar::from_zip_bytes(
        writer.finish().expect("finish").into_inner(),
        &CsarOptions::default(),
    )
    .expect("open");
    let error = read_vnfd(&csar, &BTreeSet::new()).expect_err("not UTF-8");
    assert_eq!(error.file, "Definitions/top.yaml");
    assert!(error.message.contains("not UTF-8"), "{error}");
}
