//! The tree as a Rojo 7 project, zipped: `default.project.json` (root
//! `DataModel`; each node a `$className` or a `$path` that exists; no
//! `$properties`), the scripts and data files it points at, a README and
//! the tool versions (`rokit.toml`).

use std::io::{Cursor, Write};

use serde_json::{Map, Value, json};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::{Content, Node, Origin};

pub const ROJO_VERSION: &str = "7.7.1";

/// Every file of the project, path and bytes, in a stable order.
pub fn files(tree: &Node, project_name: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let project = json!({"name": project_name, "tree": project_node(tree, &mut files)});
    let mut out = vec![
        ("default.project.json".to_owned(), pretty(&project)),
        ("rokit.toml".to_owned(), format!("[tools]\nrojo = \"rojo-rbx/rojo@{ROJO_VERSION}\"\n").into_bytes()),
        ("README.md".to_owned(), include_str!("luau/README.md").as_bytes().to_vec()),
    ];
    out.append(&mut files);
    out
}

/// The zip of [`files`].
pub fn zipped(files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed date: the same project zips to the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("plain data serializes");
    bytes.push(b'\n');
    bytes
}

/// The project node of `node`, collecting the files it points at.
fn project_node(node: &Node, files: &mut Vec<(String, Vec<u8>)>) -> Value {
    let mut out = Map::new();
    match &node.origin {
        Origin::Declared => {
            out.insert("$className".into(), json!(node.class));
            for child in &node.children {
                out.insert(child.name.clone(), project_node(child, files));
            }
        }
        Origin::Directory(path) => {
            out.insert("$path".into(), json!(path));
            for child in &node.children {
                files.push((format!("{path}/{}", child.file_name()), file_bytes(child)));
            }
        }
        Origin::File(path) => {
            out.insert("$path".into(), json!(path));
            files.push(((*path).to_owned(), file_bytes(node)));
        }
        Origin::InDirectory => unreachable!("a file in a directory is written by its directory"),
    }
    Value::Object(out)
}

fn file_bytes(node: &Node) -> Vec<u8> {
    match &node.content {
        Content::Luau(source) => source.as_bytes().to_vec(),
        Content::Data(value) => pretty(value),
        Content::None => Vec::new(),
    }
}
