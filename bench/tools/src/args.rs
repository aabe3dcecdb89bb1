//! `--name value` flags; a flag may repeat (`--header`).

#[derive(Default)]
pub struct Args {
    pairs: Vec<(String, String)>,
}

impl Args {
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --flag, got {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_string(), value.clone()));
        }
        Ok(Args { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("--{name} is required"))
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            Some(v) => v.parse().map_err(|_| format!("--{name}: not a number: {v:?}")),
            None => Ok(default),
        }
    }

    pub fn file(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.required(name)?;
        std::fs::read(path).map_err(|e| format!("--{name} {path}: {e}"))
    }
}
