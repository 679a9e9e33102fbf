//! `.codex-profile`: a project's own choice of profile, found in the working
//! directory or its nearest ancestor.
//!
//! One line, `NAME [APPROVAL]` (`workspace`, `review untrusted`), `#`
//! comments and blank lines ignored. The file may only restrict what the user
//! would otherwise get (and a nearer file what a farther one gives); the
//! resolver checks that.

use std::ops::Range;
use std::path::{Path, PathBuf};

use codex_policy_model::{ApprovalPolicy, SourceFile};

use crate::ProfileError;

/// The file's name.
pub const PROJECT_FILE_NAME: &str = ".codex-profile";

/// A parsed `.codex-profile`.
#[derive(Debug, Clone)]
pub(crate) struct ProjectFile {
    pub(crate) source: SourceFile,
    /// The profile name and where it is written.
    pub(crate) name: (String, Range<usize>),
    /// The approval policy, if given, and where.
    pub(crate) approval: Option<(ApprovalPolicy, Range<usize>)>,
}

/// Every `.codex-profile` that applies to `dir`, the nearest first: in
/// `dir` and each ancestor, up to the top of the outermost repository
/// holding `dir` (a directory with `.git`), else up to `home` or `/`.
/// Anything at that name counts as found (a link or a directory is refused
/// when read, never skipped). The outermost repository, not the nearest: a
/// `.git` a command planted in a subdirectory must not hide the files
/// above it.
pub(crate) fn find_all(dir: &Path, home: Option<&Path>) -> Result<Vec<PathBuf>, ProfileError> {
    let mut found: Vec<(PathBuf, usize)> = Vec::new();
    let mut outermost_top: Option<usize> = None;
    for (depth, ancestor) in dir.ancestors().enumerate() {
        let candidate = ancestor.join(PROJECT_FILE_NAME);
        match candidate.symlink_metadata() {
            Ok(_) => found.push((candidate, depth)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ProfileError::ProjectFileUnreadable {
                    path: candidate,
                    source,
                });
            }
        }
        if ancestor.join(".git").symlink_metadata().is_ok() {
            outermost_top = Some(depth);
        }
        if Some(ancestor) == home {
            break;
        }
    }
    Ok(found
        .into_iter()
        .filter(|(_, depth)| outermost_top.is_none_or(|top| *depth <= top))
        .map(|(path, _)| path)
        .collect())
}

/// Reads and parses the file at `path`. A symbolic link is refused: the
/// file must be the project's own, not a pointer to one somewhere else.
pub(crate) fn read(path: &Path) -> Result<ProjectFile, ProfileError> {
    let meta = path
        .symlink_metadata()
        .map_err(|source| ProfileError::ProjectFileUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
    if meta.file_type().is_symlink() {
        return Err(ProfileError::ProjectFileLink {
            path: path.to_path_buf(),
        });
    }
    // Another name for the same file could lie where a command may write it.
    if meta.is_file() && std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(ProfileError::ProjectFileHardLinked {
            path: path.to_path_buf(),
        });
    }
    let source = SourceFile::read(path)?;
    parse(source)
}

fn parse(source: SourceFile) -> Result<ProjectFile, ProfileError> {
    let text = source.text();
    let mut found: Option<Vec<Word<'_>>> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.split('#').next().unwrap_or_default();
        let tokens = tokens(content, start);
        if tokens.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(source
                .error(
                    Some(tokens[0].1.clone()),
                    Some("profile".into()),
                    "a .codex-profile holds one line: a profile name and optionally an \
                     approval policy",
                    Some("remove the extra line".into()),
                )
                .into());
        }
        found = Some(tokens);
    }
    let Some(tokens) = found else {
        return Err(source
            .error(
                None,
                Some("profile".into()),
                "the file names no profile",
                Some(
                    "write a profile name (offline, workspace, …), optionally followed by an \
                     approval policy (untrusted, on-request, on-failure, never)"
                        .into(),
                ),
            )
            .into());
    };
    let (name, name_span) = tokens[0].clone();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(source
            .error(
                Some(name_span),
                Some("profile".into()),
                format!("{name:?} is not a profile name"),
                Some("profile names are letters, digits, '-', '_' and '.'".into()),
            )
            .into());
    }
    let approval = match tokens.get(1) {
        None => None,
        Some((word, span)) => match word.parse::<ApprovalPolicy>() {
            Ok(policy) => Some((policy, span.clone())),
            Err(err) => {
                return Err(source
                    .error(
                        Some(span.clone()),
                        Some("approval".into()),
                        err.to_string(),
                        None,
                    )
                    .into());
            }
        },
    };
    if let Some((word, span)) = tokens.get(2) {
        return Err(source
            .error(
                Some(span.clone()),
                None,
                format!("unexpected {word:?} after the approval policy"),
                Some("the line is `NAME [APPROVAL]`".into()),
            )
            .into());
    }
    Ok(ProjectFile {
        name: (name.to_owned(), name_span),
        approval,
        source,
    })
}

/// A word of the file and its byte range.
type Word<'a> = (&'a str, Range<usize>);

/// The whitespace-separated words of `line`, with their byte ranges in the file.
fn tokens(line: &str, at: usize) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut offset = at;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        let word = &rest[start..];
        let len = word.find(char::is_whitespace).unwrap_or(word.len());
        out.push((&word[..len], offset + start..offset + start + len));
        offset += start + len;
        rest = &word[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<ProjectFile, ProfileError> {
        parse(
            SourceFile::from_bytes(Path::new(".codex-profile"), text.as_bytes().to_vec()).unwrap(),
        )
    }

    #[test]
    fn one_line_with_an_optional_approval() {
        let file = parsed("# team default\n\n  workspace   untrusted \n").unwrap();
        assert_eq!(file.name.0, "workspace");
        assert_eq!(file.approval.map(|a| a.0), Some(ApprovalPolicy::Untrusted));
        assert!(parsed("offline").unwrap().approval.is_none());
    }

    #[test]
    fn errors_are_located() {
        for (text, expect) in [
            ("", "1:1"),
            ("# only a comment\n", "1:1"),
            ("workspace\noffline\n", "2:1"),
            ("workspace sometimes\n", "1:11"),
            ("workspace never extra\n", "1:17"),
            ("work$pace\n", "1:1"),
        ] {
            let err = parsed(text).unwrap_err().to_string();
            assert!(
                err.contains(&format!(".codex-profile:{expect}")),
                "{text:?}: {err}"
            );
        }
    }
}
