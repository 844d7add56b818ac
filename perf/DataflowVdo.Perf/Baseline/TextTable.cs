namespace DataflowVdo.Perf.Baseline;

/// <summary>A plain-text table: columns sized to their widest cell, the leading label columns left-aligned, figures right.</summary>
internal sealed class TextTable(int labelColumns, params string[] header)
{
    private readonly List<string[]> _rows = [header];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter output)
    {
        int columns = _rows.Max(r => r.Length);
        int[] widths = new int[columns];
        foreach (var row in _rows)
        {
            for (int c = 0; c < row.Length; c++)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        foreach (var row in _rows)
        {
            for (int c = 0; c < row.Length; c++)
            {
                string cell = c < labelColumns ? row[c].PadRight(widths[c]) : row[c].PadLeft(widths[c]);
                output.Write(c == 0 ? cell : "  " + cell);
            }

            output.WriteLine();
        }
    }
}
