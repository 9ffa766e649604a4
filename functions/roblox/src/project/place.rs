//! The tree as a place file (`.rbxlx`), written with the rbx-dom crates
//! Rojo itself builds with: the same instances, names and sources as
//! `rojo build` of the project gives.

use rbx_dom_weak::types::{Enum, Variant};
use rbx_dom_weak::{InstanceBuilder, WeakDom};

use super::literal;
use super::{Content, Node};

/// The tree as an instance tree, its root the `DataModel`.
pub fn dom(tree: &Node) -> WeakDom {
    WeakDom::new(builder(tree))
}

fn builder(node: &Node) -> InstanceBuilder {
    let mut instance = InstanceBuilder::new(node.class).with_name(node.name.as_str());
    match &node.content {
        Content::Luau(source) => instance.add_property("Source", *source),
        Content::Data(value) => instance.add_property("Source", literal::module(value)),
        Content::None => {}
    }
    // As Rojo 7 writes a server script: run by the legacy rules (where it is).
    if node.class == "Script" {
        instance.add_property("RunContext", Variant::Enum(Enum::from_u32(0)));
    }
    instance.with_children(node.children.iter().map(builder))
}

/// The place file: the services under the root, as XML.
pub fn rbxlx(dom: &WeakDom) -> Result<Vec<u8>, rbx_xml::EncodeError> {
    let mut out = Vec::new();
    rbx_xml::to_writer_default(&mut out, dom, dom.root().children())?;
    Ok(out)
}

/// A place file with its server configuration (`ServerStorage.ToolboxConfig`)
/// replaced by `config`: what is published carries the signing secret that
/// no downloadable file holds.
pub fn with_config(place: &[u8], config: &serde_json::Value) -> Result<Vec<u8>, String> {
    let mut dom = rbx_xml::from_reader_default(place).map_err(|err| format!("the place does not parse: {err}"))?;
    let storage = dom
        .root()
        .children()
        .iter()
        .copied()
        .find(|child| dom.get_by_ref(*child).is_some_and(|instance| instance.class == "ServerStorage"));
    let config_ref = storage
        .and_then(|storage| dom.get_by_ref(storage))
        .and_then(|storage| {
            storage
                .children()
                .iter()
                .copied()
                .find(|child| dom.get_by_ref(*child).is_some_and(|instance| instance.name == "ToolboxConfig"))
        })
        .ok_or("the place has no ServerStorage.ToolboxConfig")?;
    let module = dom.get_by_ref_mut(config_ref).ok_or("the place has no ServerStorage.ToolboxConfig")?;
    module.properties.insert("Source".into(), Variant::String(literal::module(config)));
    rbxlx(&dom).map_err(|err| format!("the place does not serialize: {err}"))
}
