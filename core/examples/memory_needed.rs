//! The memory a store needs to run without a heap
//! ([`Config::memory_needed`]), for a few microcontroller setups: the
//! table in `docs/embedded.md`.
//!
//! ```text
//! cargo run -p cairn-core --example memory_needed
//! ```

use cairn_core::{Config, Geometry};

fn geometry(block_size: u32, block_count: u32, read: u32, program: u32) -> Geometry {
    Geometry {
        block_size,
        block_count,
        read_size: read,
        program_size: program,
    }
}

fn main() {
    let firmware_m0 = Config {
        memtable_bytes: 512,
        data_block_bytes: 128,
        max_key_len: 16,
        max_value_len: 64,
        l0_compaction_trigger: 3,
        ..Config::DEFAULT
    };
    let firmware_m4 = Config {
        memtable_bytes: 2048,
        data_block_bytes: 256,
        max_key_len: 32,
        max_value_len: 128,
        ..Config::DEFAULT
    };
    let spi = Config {
        memtable_bytes: 4096,
        data_block_bytes: 512,
        max_key_len: 16,
        max_value_len: 256,
        ..Config::DEFAULT
    };
    let spi_long_keys = Config {
        max_key_len: 32,
        ..spi.clone()
    };
    let sectors = Config {
        memtable_bytes: 16 * 1024,
        data_block_bytes: 1024,
        max_key_len: 32,
        max_value_len: 1024,
        ..Config::DEFAULT
    };
    let setups = [
        (
            "32 KiB in 1 KiB pages (the Cortex-M0 firmware)",
            geometry(1024, 32, 4, 4),
            &firmware_m0,
        ),
        (
            "64 KiB in 2 KiB pages (the Cortex-M4 firmware)",
            geometry(2048, 32, 4, 8),
            &firmware_m4,
        ),
        (
            "1 MiB SPI NOR, 4 KiB sectors",
            geometry(4096, 256, 1, 1),
            &spi,
        ),
        (
            "1 MiB SPI NOR, 4 KiB sectors, 32-byte keys",
            geometry(4096, 256, 1, 1),
            &spi_long_keys,
        ),
        (
            "4 MiB SPI NOR, 4 KiB sectors",
            geometry(4096, 1024, 1, 1),
            &spi,
        ),
        (
            "1 MiB internal flash, 64 KiB sectors",
            geometry(65536, 16, 8, 8),
            &sectors,
        ),
    ];
    println!("| device | memtable | data block | keys up to | values up to | memory_needed |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, g, cfg) in setups {
        println!(
            "| {name} | {} B | {} B | {} B | {} B | {} B |",
            cfg.memtable_bytes,
            cfg.data_block_bytes,
            cfg.max_key_len,
            cfg.max_value_len,
            cfg.memory_needed(&g)
        );
    }
}
