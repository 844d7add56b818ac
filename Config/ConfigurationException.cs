namespace DataflowVdo.Config;

/// <summary>A configuration value is missing, unknown, malformed or out of range; the message names the key.</summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates the error.</summary>
    public ConfigurationException(string message) : base(message) { }

    /// <summary>Creates the error with its cause.</summary>
    public ConfigurationException(string message, Exception inner) : base(message, inner) { }
}
