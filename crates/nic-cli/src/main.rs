//! `nic`: a learned image codec. See `nic --help`.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nic",
    version,
    about = "A learned neural image codec: train, encode, decode, evaluate."
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
    /// Encode and decode a folder of images at each quality; report bpp, PSNR and timings.
    Eval(cmd::eval::Args),
}

fn main() {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("warning: --threads {n} ignored: {e}");
        }
    }
    let result = match cli.command {
        Command::Train(a) => cmd::train::run(a),
        Command::Encode(a) => cmd::encode::run(a),
        Command::Decode(a) => cmd::decode::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Eval(a) => cmd::eval::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
