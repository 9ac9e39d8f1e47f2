//! The Discord emulator: gateway (v10 JSON over `ws://`) and REST under `/api/v10`.
