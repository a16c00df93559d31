using System.Text.RegularExpressions;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Docs;

/// <summary>
/// Every relative link in README.md, CONTRIBUTING.md and docs/*.md names a file or folder of the
/// repository, and a link to a heading (file.md#anchor) names a heading that file has: moving a
/// section from one file to another breaks no link silently.
/// </summary>
public sealed partial class DocsLinksTests
{
    public static TheoryData<string> Documents()
    {
        var root = TestDatabase.RepositoryRoot;
        var files = new TheoryData<string>();
        foreach (var file in new[] { "README.md", "CONTRIBUTING.md" }
                     .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')))
                     .Order(StringComparer.Ordinal))
        {
            files.Add(file);
        }

        return files;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_relative_link_points_at_an_existing_file_and_heading(string document)
    {
        var root = TestDatabase.RepositoryRoot;
        File.Exists(Path.Combine(root, document)).ShouldBeTrue($"{document} is missing");
        var doc = Markdown.Read(root, document);
        var problems = new List<string>();
        foreach (var (line, target) in doc.Links())
        {
            if (target.Length == 0 || Scheme().IsMatch(target) || target.StartsWith("//", StringComparison.Ordinal))
            {
                continue; // a web address: not checked here
            }

            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
            var anchor = hash < 0 ? null : target[(hash + 1)..];
            var file = path.Length == 0 ? document
                : path.StartsWith('/') ? path.TrimStart('/')
                : Path.GetRelativePath(root, Path.GetFullPath(Path.Combine(root, Path.GetDirectoryName(document) ?? "", path))).Replace('\\', '/');
            var full = Path.Combine(root, file);
            if (!File.Exists(full) && !Directory.Exists(full))
            {
                problems.Add($"{document}:{line}: ({target}) points at {file}, which does not exist");
            }
            else if (anchor is not null && file.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && File.Exists(full)
                     && !Markdown.Read(root, file).Anchors().Contains(anchor))
            {
                problems.Add($"{document}:{line}: ({target}): {file} has no heading whose anchor is #{anchor}");
            }
        }

        if (problems.Count > 0)
        {
            Assert.Fail($"broken links in {document} ({problems.Count}):\n  " + string.Join("\n  ", problems));
        }
    }

    [Fact]
    public void Anchors_are_made_as_GitHub_makes_them()
    {
        Markdown.Slug("Container start (`init`)").ShouldBe("container-start-init");
        Markdown.Slug("Benchmarks at scale (issue 14: a long history, many replicas, big tables, memory)")
            .ShouldBe("benchmarks-at-scale-issue-14-a-long-history-many-replicas-big-tables-memory");
        Markdown.Slug("Rolling back production to a version number (the 3 a.m. procedure)")
            .ShouldBe("rolling-back-production-to-a-version-number-the-3-am-procedure");
    }

    [GeneratedRegex("^[a-zA-Z][a-zA-Z0-9+.-]*:")]
    private static partial Regex Scheme();
}
