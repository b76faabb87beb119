//! Minifies the page guard's script (`src/page/assets/guard.js`) into `$OUT_DIR/guard.min.js`
//! with oxc's minifier (compression, name mangling, whitespace and comments removed). The source
//! must parse: a syntax error fails the build.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

const SOURCE: &str = "src/page/assets/guard.js";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(SOURCE).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let allocator = Allocator::default();
    // A classic script (not a module): it runs inline or from a plain <script src>.
    let parsed = Parser::new(&allocator, &text, SourceType::cjs()).parse();
    if parsed.panicked || !parsed.errors.is_empty() {
        panic!("{SOURCE} does not parse: {:?}", parsed.errors);
    }
    let mut program = parsed.program;
    let options = MinifierOptions {
        // Names inside the guard's own function only; it defines no globals.
        mangle: Some(MangleOptions {
            top_level: false,
            ..MangleOptions::default()
        }),
        // The script logs nothing; keep `console` calls anyway should one be added.
        compress: Some(CompressOptions {
            drop_console: false,
            ..CompressOptions::default()
        }),
    };
    let minified = Minifier::new(options).build(&allocator, &mut program);
    let code = Codegen::new()
        .with_options(CodegenOptions::minify())
        .with_scoping(minified.scoping)
        .build(&program)
        .code;
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("guard.min.js");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
