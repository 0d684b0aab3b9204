//! `nic`: a learned image codec. See `nic --help`.

mod cmd;
mod exit;

use clap::{Parser, Subcommand};

/// The networks allocate and free buffers of megabytes at every layer; glibc's allocator hands
/// each back to the kernel and faults it in again (12 % of a training step in the kernel, most
/// of it page faults), where mimalloc keeps and reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "nic",
    version,
    about = "A learned neural image codec: train, encode, decode, compare with JPEG and others."
)]
struct Cli {
    /// Worker threads for the CPU backend (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a compressor on CIFAR-10 or a folder of images.
    Train(cmd::train::Args),
    /// Compress a picture to a .nic file.
    Encode(cmd::encode::Args),
    /// Decompress a .nic file to a PNG.
    Decode(cmd::decode::Args),
    /// Show the header of a .nic file.
    Info(cmd::info::Args),
    /// Compare nic with JPEG, WebP and lossless compressors on a folder of images: bpp, PSNR,
    /// MS-SSIM, ratios, BD-rates, plots and an HTML report.
    #[command(visible_alias = "eval")]
    Compare(cmd::compare::Args),
    /// Time training steps, encoding and decoding, and measure peak memory (nic's own figures;
    /// scripts/bench-vs-pytorch.sh puts them beside CompressAI's).
    Bench(cmd::bench::Args),
    /// Write a model's weights as NumPy arrays (for loading them into another framework).
    Export(cmd::export::Args),
    /// Measure a model's ceilings on a folder of pictures: the synthesis of unquantized
    /// latents, every rate level's quantizer, and finer quantizers past the top level.
    Probe(cmd::probe::Args),
}

/// mimalloc's `mi_option_purge_delay`: its place in `enum mi_option_e` of the mimalloc 3 sources
/// that libmimalloc-sys builds (`c_src/mimalloc/v3/include/mimalloc.h`), which the Rust
/// bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc hands freed memory back to the kernel after a delay, and the next layer faults it
/// in again, which on a virtual machine costs more than the arithmetic of some layers (a page
/// fault zeroes 2 MiB of a transparent huge page). A nic process is short-lived, so it keeps
/// what it frees; an explicit `MIMALLOC_PURGE_DELAY` wins. This has to go through mimalloc's
/// API: mimalloc reads its environment when the process starts, before `main`, so setting the
/// variable here (as nic did before) changed nothing (four training steps at 8 × 256² took
/// 36,128 page faults with it, 1,575 with the option set).
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator, which mimalloc allows at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() {
    // Rust ignores SIGPIPE, which turns `nic compare … | head` into a panic in println!;
    // restore the default so that, like other command-line tools, nic just stops.
    #[cfg(unix)]
    // SAFETY: runs first, before any thread exists, and only resets one signal's disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Mesa's Vulkan device-select layer asks Wayland for the default GPU when Vulkan starts,
    // which prints "error: XDG_RUNTIME_DIR is invalid" on every headless machine. nic chooses
    // its adapter itself (see nic_model::DeviceChoice), so the layer is switched off.
    keep_freed_memory();
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: runs before any thread exists, so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    let cli = Cli::parse();
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("warning: --threads {n} ignored: {e}");
    }
    let result = match cli.command {
        Command::Train(a) => cmd::train::run(a),
        Command::Encode(a) => cmd::encode::run(a),
        Command::Decode(a) => cmd::decode::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Export(a) => cmd::export::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", message(&e));
        std::process::exit(exit::code(&e));
    }
}

/// The error and its causes, `: `-separated, each cause once: library errors often repeat
/// their source in their own message, which anyhow's `{:#}` would print again.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}
