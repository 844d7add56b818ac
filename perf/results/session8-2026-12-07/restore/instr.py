import re,sys
root='/work/wt/s8-restore/'
def edit(p,f):
    s=open(root+p).read(); t=f(s)
    if t==s: print('instr: no change in',p)
    open(root+p,'w').write(t)
def rc(s):
    s=s.replace('var target = r.GetValue(output)!;','T("action"); var target = r.GetValue(output)!;')
    s=re.sub(r'(using var volume = PoolFile\.Open\w+\([^;]*\);)', r'T("open-start"); \1 T("opened");', s)
    s=s.replace('cancellation: cancellation.Token);\n','cancellation: cancellation.Token); T("restored");\n')
    s=s.replace('            if (partial is not null)\n                File.Move','            T("closed");\n            if (partial is not null)\n                File.Move')
    s=s.replace('internal static class RestoreCommand\n{','internal static class RestoreCommand\n{\n    public static void T(string what) => Console.Error.WriteLine($"T {what} {DateTime.UtcNow:HH:mm:ss.ffffff}");')
    return s
edit('Cli/Commands/RestoreCommand.cs',rc)
edit('Cli/Program.cs',lambda s:s.replace('    {\n        var root','    {\n        DataflowVdo.Cli.Commands.RestoreCommand.T("main");\n        var root',1))
def br(s):
    s=re.sub(r'(var layout = new BackupLayout\(volume\.ReadBackupManifest\(image\)\);)', r'\1\n        Console.Error.WriteLine($"T manifest {DateTime.UtcNow:HH:mm:ss.ffffff}");', s)
    s=s.replace('            output.Flush();\n','            Console.Error.WriteLine($"T lastwrite {DateTime.UtcNow:HH:mm:ss.ffffff}");\n            output.Flush();\n',1)
    return s
edit('Pipeline/Backup/BackupRestore.cs',br)
