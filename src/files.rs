//! The data directory and the files in it are private to the account taskchat runs as: the database holds
//! live session tokens that work as bearer tokens, and `secret` signs every cookie and JWT.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) if missing, the last one 0700; warns when an existing one lets other
/// accounts in. Its mode is left as the operator set it: they may share it on purpose.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_shared(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Options that open (or create) a file for writing, mode 0600 when created.
fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes `contents` to `path`, created 0600 if missing (the development secret).
pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    private_options().create(true).truncate(true).open(path)?.write_all(contents.as_bytes())
}

/// Creates `file` empty with mode 0600 if missing, before SQLite opens it: SQLite gives the `-wal` and
/// `-shm` files it makes the mode of the database file, so all three stay private. Warns when an existing
/// one is readable by others.
pub fn private_file(file: &Path) -> io::Result<()> {
    match private_options().create_new(true).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_shared(file);
            for suffix in ["-wal", "-shm"] {
                let mut side = file.as_os_str().to_owned();
                side.push(suffix);
                warn_if_shared(Path::new(&side));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Logs a warning when `path` exists and its group or others may read, write or enter it.
pub fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let fix = if meta.is_dir() { "chmod 700" } else { "chmod 600" };
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "other accounts on this machine can read this; it holds sessions or keys (fix: {fix})"
            );
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("data");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("taskchat.db");
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "an empty file SQLite then makes a database of");
        // Again: nothing changes, nothing fails.
        private_dir(&dir).unwrap();
        private_file(&db).unwrap();
        assert_eq!((mode(&dir), mode(&db)), (0o700, 0o600));
    }

    #[test]
    fn an_existing_directory_keeps_the_mode_its_operator_gave_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        private_dir(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o750);
    }
}
