//! The generated game: one tree of Roblox instances ([`game_tree`]) that
//! becomes both a Rojo 7 project ([`rojo`], a zip) and a place file
//! ([`place`], `.rbxlx`), so the two cannot disagree. The scripts are
//! fixed Luau shipped with this crate (`luau/`); the lesson reaches the
//! game only as data: `src/shared/Lesson.json` in the project, a module
//! returning a table literal ([`literal`]) in the place.

#[cfg(test)]
mod bench;
pub mod data;
pub mod literal;
#[cfg(test)]
mod luau_tests;
pub mod place;
pub mod rojo;

use serde_json::Value;

/// One instance of the tree, and where the Rojo project keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub class: &'static str,
    pub content: Content,
    /// Where the project keeps it: declared in `default.project.json`, or a
    /// file or folder on disk that Rojo turns into it.
    pub origin: Origin,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A container (a service or a folder).
    None,
    /// A script's fixed source.
    Luau(&'static str),
    /// A module made from JSON data, as Rojo makes one from a `.json` file.
    Data(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A node of `default.project.json` with a `$className`.
    Declared,
    /// A node of `default.project.json` with a `$path` to this folder.
    Directory(&'static str),
    /// A node of `default.project.json` with a `$path` to this file.
    File(&'static str),
    /// A file inside its parent's directory, named for the node.
    InDirectory,
}

impl Node {
    fn declared(class: &'static str, name: &str, children: Vec<Node>) -> Self {
        Self { name: name.to_owned(), class, content: Content::None, origin: Origin::Declared, children }
    }

    fn directory(name: &str, path: &'static str, children: Vec<Node>) -> Self {
        Self {
            name: name.to_owned(),
            class: "Folder",
            content: Content::None,
            origin: Origin::Directory(path),
            children,
        }
    }

    fn script(class: &'static str, name: &str, source: &'static str) -> Self {
        let content = Content::Luau(source);
        Self { name: name.to_owned(), class, content, origin: Origin::InDirectory, children: Vec::new() }
    }

    fn data(name: &str, value: Value, origin: Origin) -> Self {
        Self {
            name: name.to_owned(),
            class: "ModuleScript",
            content: Content::Data(value),
            origin,
            children: Vec::new(),
        }
    }

    /// The file name Rojo reads this node from inside its parent's directory.
    fn file_name(&self) -> String {
        match (&self.content, self.class) {
            (Content::Data(_), _) => format!("{}.json", self.name),
            (_, "Script") => format!("{}.server.luau", self.name),
            (_, "LocalScript") => format!("{}.client.luau", self.name),
            _ => format!("{}.luau", self.name),
        }
    }
}

/// The game's layout (Rojo 7's usual one): shared modules and the lesson in
/// ReplicatedStorage, the server's scripts in ServerScriptService, its
/// configuration (with the signing secret) in ServerStorage, which players
/// never receive, the player's script in StarterPlayerScripts, and the
/// Workspace folders the server fills with boards and quiz zones.
pub fn game_tree(lesson: Value, config: Value) -> Node {
    Node::declared(
        "DataModel",
        "DataModel",
        vec![
            Node::declared(
                "ReplicatedStorage",
                "ReplicatedStorage",
                vec![Node::directory(
                    "Toolbox",
                    "src/shared",
                    vec![
                        Node::data("Lesson", lesson, Origin::InDirectory),
                        Node::script("ModuleScript", "Quiz", include_str!("luau/Quiz.luau")),
                    ],
                )],
            ),
            Node::declared(
                "ServerScriptService",
                "ServerScriptService",
                vec![Node::directory(
                    "Toolbox",
                    "src/server",
                    vec![
                        Node::script("ModuleScript", "Api", include_str!("luau/Api.luau")),
                        Node::script("Script", "Main", include_str!("luau/Main.server.luau")),
                        Node::script("ModuleScript", "Sha256", include_str!("luau/Sha256.luau")),
                    ],
                )],
            ),
            Node::declared(
                "ServerStorage",
                "ServerStorage",
                vec![Node::data("ToolboxConfig", config, Origin::File("config/ToolboxConfig.json"))],
            ),
            Node::declared(
                "StarterPlayer",
                "StarterPlayer",
                vec![Node::declared(
                    "StarterPlayerScripts",
                    "StarterPlayerScripts",
                    vec![Node::directory(
                        "Toolbox",
                        "src/client",
                        vec![Node::script("LocalScript", "Client", include_str!("luau/Client.client.luau"))],
                    )],
                )],
            ),
            Node::declared(
                "Workspace",
                "Workspace",
                vec![
                    Node::declared("Folder", "LessonBoards", Vec::new()),
                    Node::declared("Folder", "QuizZones", Vec::new()),
                ],
            ),
        ],
    )
}
