//! A recording fake for the stage lists (the command's and init's): it notes each stage and
//! fails at the one it is told to.

#[derive(Default)]
pub struct Recorder {
    pub calls: Vec<&'static str>,
    pub fail_at: Option<&'static str>,
}

impl Recorder {
    pub fn step(&mut self, name: &'static str) -> Result<(), String> {
        self.calls.push(name);
        match self.fail_at == Some(name) {
            true => Err(name.into()),
            false => Ok(()),
        }
    }
}
