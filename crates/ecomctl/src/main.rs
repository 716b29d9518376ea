//! `ecomctl`: the operator CLI (work in progress).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("ecomctl is not built yet")
}
