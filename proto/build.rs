//! Compiles every .proto under this crate with protox (no system protoc), generates the tonic code, writes
//! the encoded descriptor set for server reflection, and derives the message -> data class table from the
//! `haven.common.v1.data_class` option (prost keeps no custom options in generated code).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use prost_reflect::Value;

const PROTOS: &[&str] = &[
    "haven/common/v1/common.proto",
    "haven/common/v1/http.proto",
    "haven/identity/v1/identity.proto",
    "haven/identity/v1/audit.proto",
    "haven/identity/v1/webhooks.proto",
    "haven/auth/v1/auth.proto",
    "haven/events/v1/events.proto",
    "haven/family_tracing/v1/tracing.proto",
    "haven/learning/v1/learning.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;

    // Reflection needs every file, the well-known imports included. Encoded by protox itself, which
    // keeps custom options (prost-types would drop them): the gateway reads its REST routes from the
    // `haven.common.v1.http` method option in this set.
    fs::write(
        out_dir.join("haven_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    write_data_class_table(
        &compiler.descriptor_pool(),
        &out_dir.join("data_classes.rs"),
    )?;

    // Well-known types map to prost-types (prost-build's default extern path).
    // Our codec answers an undecodable request INVALID_ARGUMENT instead of INTERNAL (src/codec.rs).
    tonic_prost_build::configure()
        .codec_path("crate::codec::HavenCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

fn write_data_class_table(
    pool: &prost_reflect::DescriptorPool,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let extension = pool
        .get_extension_by_name("haven.common.v1.data_class")
        .ok_or("the data_class option is not defined")?;
    let mut table = String::from(
        "/// Every message that declares a data class, by full name, with the class's enum number.\n\
         pub const MESSAGE_DATA_CLASSES: &[(&str, i32)] = &[\n",
    );
    for message in pool.all_messages() {
        let options = message.options();
        if !options.has_extension(&extension) {
            continue;
        }
        if let Value::EnumNumber(class) = options.get_extension(&extension).as_ref() {
            writeln!(table, "    ({:?}, {class}),", message.full_name())?;
        }
    }
    table.push_str("];\n");
    fs::write(path, table)?;
    Ok(())
}
