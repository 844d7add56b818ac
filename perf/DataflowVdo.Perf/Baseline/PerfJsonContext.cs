using System.Text.Json.Serialization;

namespace DataflowVdo.Perf.Baseline;

/// <summary>Source-generated JSON for results: one compact object per line, camelCase names.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BaselineResult))]
internal sealed partial class PerfJsonContext : JsonSerializerContext;
